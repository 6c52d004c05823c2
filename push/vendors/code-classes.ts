// Answers to outcomes for the vendors whose facts sort their result codes into classes (OPPO,
// vivo). Which code is in which class, and how a vendor's answer is spelled, stay in the vendor's
// folder; what a class means for a push job, and in which order they are asked, is ours and the
// same for every vendor.

import type { FailedOutcome } from './answers.ts';
import { retryAfterMs, type VendorResponse } from './http.ts';

export interface CodeClasses {
  dead: ReadonlySet<number>;
  /** A used-up daily quota: retry much later (`quotaRetryAfterMs`), never prune. */
  quota: ReadonlySet<number>;
  transient: ReadonlySet<number>;
  config: ReadonlySet<number>;
  rejected?: ReadonlySet<number>;
}

/** A result code sent as a JSON number or a numeric string; undefined when it is neither. */
export function integerCode(value: unknown): number | undefined {
  const numeric = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof numeric === 'number' && Number.isInteger(numeric) ? numeric : undefined;
}

export function classifiedCode(
  classes: CodeClasses, code: number, reason: string, httpStatus: number, quotaRetryAfterMs: () => number,
): FailedOutcome {
  if (classes.dead.has(code)) return { status: 'dead_token', reason, httpStatus };
  if (classes.quota.has(code)) return { status: 'retry', reason, httpStatus, retryAfterMs: quotaRetryAfterMs() };
  if (classes.transient.has(code)) return { status: 'retry', reason, httpStatus };
  if (classes.config.has(code)) return { status: 'config_error', reason, httpStatus };
  if (classes.rejected?.has(code)) return { status: 'rejected', reason, httpStatus };
  // An unknown code: retrying is safe (the queue bounds attempts); dropping would lose the push.
  return { status: 'retry', reason, httpStatus };
}

/**
 * An answer that never reached the vendor's JSON: no connection, a proxy's error page, a 5xx.
 * `what` names the call ("oppo auth"), `vendorAnswer` the body that was missing ("an OPPO answer").
 */
export function transportOutcome(response: VendorResponse, now: number, what: string, vendorAnswer: string): FailedOutcome {
  if (response.status === 0) return { status: 'retry', reason: `${what}: ${response.error ?? 'no answer'}` };
  const after = retryAfterMs(response.headers, now);
  return {
    status: 'retry',
    reason: `${what}: HTTP ${response.status} without ${vendorAnswer}`,
    httpStatus: response.status,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
  };
}

/**
 * The wait after a daily quota whose reset time the vendor does not give: until the next full
 * hour, at least five minutes. A push job then spends at most one attempt per hour on a used-up
 * quota, a quota raised or reset at an unknown hour is used within the hour, and no message is
 * held back for up to a day on a guess about the reset time.
 */
export function untilNextFullHourMs(now: number): number {
  const nextHour = Math.ceil((now + 1) / 3600_000) * 3600_000;
  return Math.max(5 * 60_000, nextHour - now);
}
