// The send loop of the vendors that sign an auth call of their own for a day-long token (OPPO,
// vivo): send with the current token; when the vendor refuses it, forget it and resend once with
// a fresh one. A fresh token refused as well means the vendor is confused right now, so the push
// is retried later rather than resent in a loop. How a token is obtained and which answers refuse
// it are the vendor's (its *-auth.ts and *-outcome.ts).

import type { FailedOutcome } from './answers.ts';
import type { PushOutcome, VendorDeps } from './contract.ts';

/** A usable auth token, or the outcome that explains why there is none. */
export type AuthTokenAnswer = { ok: true; token: string } | { ok: false; outcome: FailedOutcome };

/** `reauth`: the vendor refused the token; the loop takes a new one and resends once. */
export type RenewableAnswer = PushOutcome | { status: 'reauth'; reason: string };

export interface RenewingSend {
  /** For the log line of a refused token. */
  vendor: string;
  credential: string;
  pushId: string;
  deps: VendorDeps;
  token(): Promise<AuthTokenAnswer>;
  /** Forget a refused token (unless a newer one already replaced it). */
  invalidate(token: string): void | Promise<void>;
  send(token: string): Promise<RenewableAnswer>;
}

export async function sendRenewingTokenOnce(send: RenewingSend): Promise<PushOutcome> {
  let refused = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    const auth = await send.token();
    if (!auth.ok) return auth.outcome;
    const outcome = await send.send(auth.token);
    if (outcome.status !== 'reauth') return outcome;
    refused = outcome.reason;
    await send.invalidate(auth.token);
    send.deps.log({ vendor: send.vendor, credential: send.credential, event: 'auth_token_refused', attempt, pushId: send.pushId });
  }
  return { status: 'retry', reason: `${refused}: a fresh token was refused as well` };
}
