/**
 * Pure classification of OPPO answers into outcomes (DEV-7, OPS-3). Every code's meaning is in
 * oppo-facts.ts; what each class means for a push job is push/vendors/code-classes.ts.
 */
import { classifiedCode, integerCode, transportOutcome } from '../code-classes.ts';
import { parseJsonObject, type VendorResponse } from '../http.ts';
import type { AuthTokenAnswer, RenewableAnswer } from '../token-renewal.ts';
import { OPPO_CODE_CLASS, OPPO_CODES, oppoQuotaRetryAfterMs } from './oppo-facts.ts';

export interface OppoAnswer {
  code: number;
  message: string;
  data: Record<string, unknown> | undefined;
}

/** The JSON answer `{code, message, data}`, or undefined when the body is not one. */
export function parseOppoAnswer(text: string): OppoAnswer | undefined {
  const body = parseJsonObject(text);
  const code = integerCode(body?.code);
  if (body === undefined || code === undefined) return undefined;
  const { message, data } = body;
  return {
    code,
    message: typeof message === 'string' ? message.slice(0, 200) : '',
    data: typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : undefined,
  };
}

const NO_ANSWER = 'an OPPO answer';

function codeOutcome(answer: OppoAnswer, httpStatus: number, now: number, what: string) {
  const reason = `oppo ${what}: code ${answer.code}${answer.message ? ` (${answer.message})` : ''}`;
  return classifiedCode(OPPO_CODE_CLASS, answer.code, reason, httpStatus, () => oppoQuotaRetryAfterMs(now));
}

export type OppoAuthAnswer = AuthTokenAnswer;

export function classifyOppoAuth(response: VendorResponse, now: number): OppoAuthAnswer {
  const answer = response.status === 0 ? undefined : parseOppoAnswer(response.text);
  if (!answer) return { ok: false, outcome: transportOutcome(response, now, 'oppo auth', NO_ANSWER) };
  if (answer.code === OPPO_CODES.SUCCESS) {
    const token = answer.data?.auth_token;
    if (typeof token === 'string' && token !== '') return { ok: true, token };
    return { ok: false, outcome: { status: 'retry', reason: 'oppo auth: code 0 without data.auth_token', httpStatus: response.status } };
  }
  return { ok: false, outcome: codeOutcome(answer, response.status, now, 'auth') };
}

/** `reauth`: the token was refused; the provider takes a new one and resends once. */
export type OppoSendAnswer = RenewableAnswer;

export function classifyOppoSend(response: VendorResponse, now: number): OppoSendAnswer {
  const answer = response.status === 0 ? undefined : parseOppoAnswer(response.text);
  if (!answer) return transportOutcome(response, now, 'oppo unicast', NO_ANSWER);
  if (answer.code === OPPO_CODES.SUCCESS) {
    const id = answer.data?.messageId;
    return { status: 'delivered', httpStatus: response.status, ...(typeof id === 'string' && id !== '' ? { vendorId: id } : {}) };
  }
  if (OPPO_CODE_CLASS.reauth.has(answer.code)) return { status: 'reauth', reason: `oppo unicast: code ${answer.code} (${answer.message})` };
  return codeOutcome(answer, response.status, now, 'unicast');
}
