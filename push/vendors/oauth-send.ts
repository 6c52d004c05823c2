// The send loop of the vendors whose push API takes an OAuth access token from oauth.ts (Huawei,
// Honor): take the cached token, send, and when the vendor refuses the token, drop it and resend
// once with a fresh one, so an expired token costs one extra request and never a lost or doubled
// push. Which answers refuse the token, and what a second refusal means, are each vendor's own
// facts (its *-outcome.ts and provider); the loop and its log lines are the same.

import { logAnswer } from './answers.ts';
import type { PushMessage, PushOutcome, VendorDeps } from './contract.ts';
import { vendorRequest, type VendorResponse } from './http.ts';
import type { OAuthTokenCache } from './oauth.ts';

/** The request without its `Authorization`, which the loop adds per attempt. */
export interface UnauthorizedRequest {
  url: string;
  headers: Record<string, string>;
  bodyText: string;
}

export type AccessTokenAnswer =
  | {
    kind: 'outcome';
    outcome: PushOutcome;
    code?: string | undefined;
    /** The vendor called the token itself bad: forget it so the next send fetches another. */
    dropToken?: boolean;
  }
  | { kind: 'reauth'; reason: string; httpStatus: number; code?: string | undefined };

export interface AccessTokenSend {
  /** The vendor's name in logs ('huawei', 'honor'). */
  vendor: string;
  credential: string;
  /** Never logged; cut out of every logged reason. */
  secret: string;
  message: PushMessage;
  tokens: OAuthTokenCache;
  deps: VendorDeps;
  ca?: string | undefined;
  timeoutMs?: number | undefined;
  /** The request of this attempt, or why there is none (built after the token, so per-attempt headers are fresh). */
  request(): { ok: true; request: UnauthorizedRequest } | { ok: false; outcome: PushOutcome };
  classify(response: VendorResponse): AccessTokenAnswer;
  /** Logged before the resend with a fresh token. */
  refreshEvent: string;
  /** The outcome when the fresh token is refused as well. */
  refusedAgain(refusal: Extract<AccessTokenAnswer, { kind: 'reauth' }>): PushOutcome;
}

export async function sendWithAccessToken(send: AccessTokenSend): Promise<PushOutcome> {
  const { vendor, credential, secret, message, tokens, deps } = send;
  const log = (outcome: PushOutcome, code: string | undefined, attempt: number, ms?: number): void =>
    logAnswer(deps, { vendor, credential, message, outcome, code, attempt, ms, secret });

  for (let attempt = 1; ; attempt++) {
    const auth = await tokens.get();
    if (!auth.ok) {
      log(auth.outcome, undefined, attempt);
      return auth.outcome;
    }
    const built = send.request();
    if (!built.ok) return built.outcome;
    const startedAt = deps.now();
    const res = await vendorRequest({
      url: built.request.url,
      method: 'POST',
      headers: { ...built.request.headers, authorization: `${auth.token.type} ${auth.token.value}` },
      body: built.request.bodyText,
      ca: send.ca,
      timeoutMs: send.timeoutMs,
    });
    const answer = send.classify(res);
    if (answer.kind === 'reauth') {
      tokens.invalidate(auth.token.value);
      if (attempt === 1) {
        deps.log({ vendor, event: send.refreshEvent, credential, pushId: message.id });
        continue;
      }
      const outcome = send.refusedAgain(answer);
      log(outcome, answer.code, attempt, deps.now() - startedAt);
      return outcome;
    }
    if (answer.dropToken) tokens.invalidate(auth.token.value);
    log(answer.outcome, answer.code, attempt, deps.now() - startedAt);
    return answer.outcome;
  }
}
