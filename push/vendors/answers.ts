// What the HTTP vendors' providers do with every answer, whatever the vendor: send() never throws,
// a vendor's text echoed into a reason never carries the credential's secret (reasons reach logs,
// push traces and the console), and one log line per push answered, in one shape for every
// vendor so operators can grep them alike. And the one refusal every provider makes before
// sending: a target registered as another vendor's kind.

import type { PushMessage, PushOutcome, PushTarget, VendorDeps } from './contract.ts';
import { REDACTED } from './preview.ts';

/** A failure is never `delivered`, so it always has a reason. */
export type FailedOutcome = Exclude<PushOutcome, { status: 'delivered' }>;

export type ConfigErrorOutcome = Extract<PushOutcome, { status: 'config_error' }>;

/** Who is asked to send: the credential's name, its vendor as reasons name it, and the registration kinds it sends to. */
export interface SendingCredential {
  name: string;
  vendor: string;
  accepts: string | readonly string[];
}

/**
 * The target's registration kind is not one `credential` sends to: the device registered with
 * another vendor (or as another kind) but its binding names this credential. That is a
 * configuration mistake, never a dead token, so it is `config_error` (the dispatcher fails the job
 * without a retry and keeps the token) and nothing is sent. Undefined when the kind is one of ours.
 */
export function registrationMismatch(target: PushTarget, credential: SendingCredential): ConfigErrorOutcome | undefined {
  const accepted = typeof credential.accepts === 'string' ? [credential.accepts] : credential.accepts;
  if (accepted.includes(target.registration)) return undefined;
  return { status: 'config_error', reason: `credential "${credential.name}" is ${credential.vendor} but the target registered as ${target.registration}` };
}

/** A bug or an unexpected exception is a retry (the queue bounds attempts): never a lost push, never a crashed dispatcher. */
export async function neverThrows(vendor: string, send: () => Promise<PushOutcome>): Promise<PushOutcome> {
  try {
    return await send();
  } catch (err) {
    return { status: 'retry', reason: `${vendor} provider error: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** `text` without `secret`. A secret under 4 characters would match innocent text, so it is left alone. */
export function scrubSecret(text: string, secret: string): string {
  return secret.length >= 4 ? text.split(secret).join(REDACTED) : text;
}

export function scrubOutcome(outcome: PushOutcome, secret: string): PushOutcome {
  return 'reason' in outcome ? { ...outcome, reason: scrubSecret(outcome.reason, secret) } : outcome;
}

export interface AnsweredPush {
  vendor: string;
  credential: string;
  message: PushMessage;
  outcome: PushOutcome;
  /** The vendor's result code, when its answer carried one. */
  code?: string | number | undefined;
  /** Logged from 2 on: the push was resent (a fresh access token). */
  attempt?: number;
  /** Time the vendor took to answer; absent when no request was sent (no access token). */
  ms?: number | undefined;
  /** Cut out of the reason. */
  secret: string;
}

export function logAnswer(deps: VendorDeps, answered: AnsweredPush): void {
  const { outcome, code, attempt, ms } = answered;
  deps.log({
    vendor: answered.vendor,
    event: 'push answered',
    credential: answered.credential,
    pushId: answered.message.id,
    purpose: answered.message.purpose,
    status: outcome.status,
    ...(code !== undefined ? { code } : {}),
    ...(outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {}),
    ...(attempt !== undefined && attempt > 1 ? { attempt } : {}),
    ...(ms !== undefined ? { ms } : {}),
    ...('reason' in outcome ? { reason: scrubSecret(outcome.reason, answered.secret) } : {}),
  });
}
