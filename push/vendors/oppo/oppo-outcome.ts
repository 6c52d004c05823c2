/**
 * Pure classification of OPPO answers into outcomes (DEV-7, OPS-3). Every code's meaning is in
 * oppo-facts.ts; this file only decides what each class means for a push job.
 */
import type { PushOutcome } from '../contract.ts';
import { retryAfterMs, type VendorResponse } from '../http.ts';
import { OPPO_CODE_CLASS, OPPO_CODES, oppoQuotaRetryAfterMs } from './oppo-facts.ts';

export interface OppoAnswer {
  code: number;
  message: string;
  data: Record<string, unknown> | undefined;
}

/** The JSON answer `{code, message, data}`, or undefined when the body is not one. */
export function parseOppoAnswer(text: string): OppoAnswer | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { code, message, data } = body as Record<string, unknown>;
  const numeric = typeof code === 'string' && code.trim() !== '' ? Number(code) : code;
  if (typeof numeric !== 'number' || !Number.isInteger(numeric)) return undefined;
  return {
    code: numeric,
    message: typeof message === 'string' ? message.slice(0, 200) : '',
    data: typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : undefined,
  };
}

/** An answer that never reached JSON: no connection, a proxy's error page, a 5xx. */
function transportOutcome(response: VendorResponse, now: number, what: string): FailedOutcome {
  if (response.status === 0) return { status: 'retry', reason: `oppo ${what}: ${response.error ?? 'no answer'}` };
  const after = retryAfterMs(response.headers, now);
  return {
    status: 'retry',
    reason: `oppo ${what}: HTTP ${response.status} without an OPPO answer`,
    httpStatus: response.status,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
  };
}

function codeOutcome(answer: OppoAnswer, httpStatus: number, now: number, what: string): FailedOutcome {
  const reason = `oppo ${what}: code ${answer.code}${answer.message ? ` (${answer.message})` : ''}`;
  const { code } = answer;
  if (OPPO_CODE_CLASS.dead.has(code)) return { status: 'dead_token', reason, httpStatus };
  if (OPPO_CODE_CLASS.quota.has(code)) return { status: 'retry', reason, httpStatus, retryAfterMs: oppoQuotaRetryAfterMs(now) };
  if (OPPO_CODE_CLASS.transient.has(code)) return { status: 'retry', reason, httpStatus };
  if (OPPO_CODE_CLASS.config.has(code)) return { status: 'config_error', reason, httpStatus };
  if (OPPO_CODE_CLASS.rejected.has(code)) return { status: 'rejected', reason, httpStatus };
  // An unknown code: retrying is safe (the queue bounds attempts); dropping would lose the push.
  return { status: 'retry', reason, httpStatus };
}

/** A failure is never `delivered`, so it always has a reason. */
export type FailedOutcome = Exclude<PushOutcome, { status: 'delivered' }>;
export type OppoAuthAnswer = { ok: true; token: string } | { ok: false; outcome: FailedOutcome };

export function classifyOppoAuth(response: VendorResponse, now: number): OppoAuthAnswer {
  const answer = response.status === 0 ? undefined : parseOppoAnswer(response.text);
  if (!answer) return { ok: false, outcome: transportOutcome(response, now, 'auth') };
  if (answer.code === OPPO_CODES.SUCCESS) {
    const token = answer.data?.auth_token;
    if (typeof token === 'string' && token !== '') return { ok: true, token };
    return { ok: false, outcome: { status: 'retry', reason: 'oppo auth: code 0 without data.auth_token', httpStatus: response.status } };
  }
  return { ok: false, outcome: codeOutcome(answer, response.status, now, 'auth') };
}

/** `reauth`: the token was refused; the provider takes a new one and resends once. */
export type OppoSendAnswer = PushOutcome | { status: 'reauth'; reason: string };

export function classifyOppoSend(response: VendorResponse, now: number): OppoSendAnswer {
  const answer = response.status === 0 ? undefined : parseOppoAnswer(response.text);
  if (!answer) return transportOutcome(response, now, 'unicast');
  if (answer.code === OPPO_CODES.SUCCESS) {
    const id = answer.data?.messageId;
    return { status: 'delivered', httpStatus: response.status, ...(typeof id === 'string' && id !== '' ? { vendorId: id } : {}) };
  }
  if (OPPO_CODE_CLASS.reauth.has(answer.code)) return { status: 'reauth', reason: `oppo unicast: code ${answer.code} (${answer.message})` };
  return codeOutcome(answer, response.status, now, 'unicast');
}
