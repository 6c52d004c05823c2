/**
 * Pure classification of vivo answers into outcomes (DEV-7, OPS-3). Every code's meaning is in
 * vivo-facts.ts; this file only decides what each class means for a push job.
 */
import type { PushOutcome } from '../contract.ts';
import { retryAfterMs, type VendorResponse } from '../http.ts';
import { VIVO_CODE_CLASS, VIVO_CODES, VIVO_INVALID_USER, vivoQuotaRetryAfterMs } from './vivo-facts.ts';

export interface VivoAnswer {
  result: number;
  desc: string;
  body: Record<string, unknown>;
}

/** A failure is never `delivered`, so it always has a reason. */
export type FailedOutcome = Exclude<PushOutcome, { status: 'delivered' }>;

/** The JSON answer `{result, desc, …}`, or undefined when the body is not one. */
export function parseVivoAnswer(text: string): VivoAnswer | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const result = typeof record.result === 'string' && record.result.trim() !== '' ? Number(record.result) : record.result;
  if (typeof result !== 'number' || !Number.isInteger(result)) return undefined;
  return { result, desc: typeof record.desc === 'string' ? record.desc.slice(0, 200) : '', body: record };
}

function transportOutcome(response: VendorResponse, now: number, what: string): FailedOutcome {
  if (response.status === 0) return { status: 'retry', reason: `vivo ${what}: ${response.error ?? 'no answer'}` };
  const after = retryAfterMs(response.headers, now);
  return {
    status: 'retry',
    reason: `vivo ${what}: HTTP ${response.status} without a vivo answer`,
    httpStatus: response.status,
    ...(after !== undefined ? { retryAfterMs: after } : {}),
  };
}

function codeOutcome(answer: VivoAnswer, httpStatus: number, now: number, what: string): FailedOutcome {
  const reason = `vivo ${what}: result ${answer.result}${answer.desc ? ` (${answer.desc})` : ''}`;
  const { result } = answer;
  if (VIVO_CODE_CLASS.dead.has(result)) return { status: 'dead_token', reason, httpStatus };
  if (VIVO_CODE_CLASS.quota.has(result)) return { status: 'retry', reason, httpStatus, retryAfterMs: vivoQuotaRetryAfterMs(now) };
  if (VIVO_CODE_CLASS.transient.has(result)) return { status: 'retry', reason, httpStatus };
  if (VIVO_CODE_CLASS.config.has(result)) return { status: 'config_error', reason, httpStatus };
  // An unknown code: retrying is safe (the queue bounds attempts); dropping would lose the push.
  return { status: 'retry', reason, httpStatus };
}

export type VivoAuthAnswer = { ok: true; token: string } | { ok: false; outcome: FailedOutcome };

export function classifyVivoAuth(response: VendorResponse, now: number): VivoAuthAnswer {
  const answer = response.status === 0 ? undefined : parseVivoAnswer(response.text);
  if (!answer) return { ok: false, outcome: transportOutcome(response, now, 'auth') };
  if (answer.result === VIVO_CODES.SUCCESS) {
    const token = answer.body.authToken;
    if (typeof token === 'string' && token !== '') return { ok: true, token };
    return { ok: false, outcome: { status: 'retry', reason: 'vivo auth: result 0 without authToken', httpStatus: response.status } };
  }
  return { ok: false, outcome: codeOutcome(answer, response.status, now, 'auth') };
}

/** `reauth`: the token was refused; the provider takes a new one and resends once. */
export type VivoSendAnswer = PushOutcome | { status: 'reauth'; reason: string };

export function classifyVivoSend(response: VendorResponse, now: number): VivoSendAnswer {
  const answer = response.status === 0 ? undefined : parseVivoAnswer(response.text);
  if (!answer) return transportOutcome(response, now, 'send');
  if (answer.result === VIVO_CODES.SUCCESS) {
    const invalid = answer.body.invalidUser as { status?: unknown } | undefined;
    const status = typeof invalid === 'object' && invalid !== null ? Number(invalid.status) : undefined;
    if (status === VIVO_INVALID_USER.notFound || status === VIVO_INVALID_USER.offline90Days) {
      return { status: 'dead_token', reason: `vivo send: accepted but invalidUser.status ${status}`, httpStatus: response.status };
    }
    if (status === VIVO_INVALID_USER.notTestDevice) {
      return { status: 'config_error', reason: 'vivo send: pushMode test but the device is not a test device', httpStatus: response.status };
    }
    const taskId = answer.body.taskId;
    return { status: 'delivered', httpStatus: response.status, ...(typeof taskId === 'string' || typeof taskId === 'number' ? { vendorId: String(taskId) } : {}) };
  }
  if (VIVO_CODE_CLASS.reauth.has(answer.result)) return { status: 'reauth', reason: `vivo send: result ${answer.result} (${answer.desc})` };
  return codeOutcome(answer, response.status, now, 'send');
}
