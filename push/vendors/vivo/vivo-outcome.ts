/**
 * Pure classification of vivo answers into outcomes (DEV-7, OPS-3). Every code's meaning is in
 * vivo-facts.ts; what each class means for a push job is push/vendors/code-classes.ts.
 */
import { classifiedCode, integerCode, transportOutcome } from '../code-classes.ts';
import { parseJsonObject, type VendorResponse } from '../http.ts';
import type { AuthTokenAnswer, RenewableAnswer } from '../token-renewal.ts';
import { VIVO_CODE_CLASS, VIVO_CODES, VIVO_INVALID_USER, vivoQuotaRetryAfterMs } from './vivo-facts.ts';

export interface VivoAnswer {
  result: number;
  desc: string;
  body: Record<string, unknown>;
}

/** The JSON answer `{result, desc, …}`, or undefined when the body is not one. */
export function parseVivoAnswer(text: string): VivoAnswer | undefined {
  const body = parseJsonObject(text);
  const result = integerCode(body?.result);
  if (body === undefined || result === undefined) return undefined;
  return { result, desc: typeof body.desc === 'string' ? body.desc.slice(0, 200) : '', body };
}

const NO_ANSWER = 'a vivo answer';

function codeOutcome(answer: VivoAnswer, httpStatus: number, now: number, what: string) {
  const reason = `vivo ${what}: result ${answer.result}${answer.desc ? ` (${answer.desc})` : ''}`;
  return classifiedCode(VIVO_CODE_CLASS, answer.result, reason, httpStatus, () => vivoQuotaRetryAfterMs(now));
}

export type VivoAuthAnswer = AuthTokenAnswer;

export function classifyVivoAuth(response: VendorResponse, now: number): VivoAuthAnswer {
  const answer = response.status === 0 ? undefined : parseVivoAnswer(response.text);
  if (!answer) return { ok: false, outcome: transportOutcome(response, now, 'vivo auth', NO_ANSWER) };
  if (answer.result === VIVO_CODES.SUCCESS) {
    const token = answer.body.authToken;
    if (typeof token === 'string' && token !== '') return { ok: true, token };
    return { ok: false, outcome: { status: 'retry', reason: 'vivo auth: result 0 without authToken', httpStatus: response.status } };
  }
  return { ok: false, outcome: codeOutcome(answer, response.status, now, 'auth') };
}

/** `reauth`: the token was refused; the provider takes a new one and resends once. */
export type VivoSendAnswer = RenewableAnswer;

export function classifyVivoSend(response: VendorResponse, now: number): VivoSendAnswer {
  const answer = response.status === 0 ? undefined : parseVivoAnswer(response.text);
  if (!answer) return transportOutcome(response, now, 'vivo send', NO_ANSWER);
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
