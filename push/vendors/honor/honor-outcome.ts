// Pure classification of an Honor sendMessage answer into a PushOutcome, or the provider-internal
// "get a new access token and resend once". Honor's response-code table is unverified (see
// honor-facts.ts), so only what we know is acted on; everything else is a bounded retry.

import type { PushOutcome } from '../contract.ts';
import { parseJsonObject, retryAfterMs, type VendorResponse } from '../http.ts';
import {
  HONOR_AUTH_CODES,
  HONOR_EXPIRED_TOKENS_FIELD,
  HONOR_FAILED_TOKENS_FIELD,
  HONOR_HTTP_ACTIONS,
  HONOR_SUCCESS_CODE,
} from './honor-facts.ts';

export type HonorClassified =
  | { kind: 'outcome'; outcome: PushOutcome; code?: string }
  | { kind: 'reauth'; reason: string; httpStatus: number; code?: string };

type Answer = Pick<VendorResponse, 'status' | 'headers' | 'text' | 'error'>;


const clip = (s: unknown): string => String(s ?? '').slice(0, 200);
const listed = (list: unknown, token: string): boolean => Array.isArray(list) && list.includes(token);

export function classifyHonorAnswer(answer: Answer, token: string, nowMs: number): HonorClassified {
  const httpStatus = answer.status;
  if (httpStatus === 0) return { kind: 'outcome', outcome: { status: 'retry', reason: `honor: no answer (${answer.error ?? 'network error'})` } };
  const after = retryAfterMs(answer.headers, nowMs);
  const body = parseJsonObject(answer.text);
  const code = body?.code !== undefined && body.code !== null ? String(body.code) : undefined;
  const text = body?.message ?? body?.msg;
  const what = `honor ${code !== undefined ? `code ${code}` : `HTTP ${httpStatus}`}${text !== undefined ? `: ${clip(text)}` : ''}`;
  const withCode = code !== undefined ? { code } : {};

  if (httpStatus === 401 || (code !== undefined && HONOR_AUTH_CODES.has(code))) {
    return { kind: 'reauth', reason: `${what} (access token refused)`, httpStatus, ...withCode };
  }
  if (code === HONOR_SUCCESS_CODE && httpStatus >= 200 && httpStatus < 300) {
    const data = typeof body?.data === 'object' && body.data !== null ? (body.data as Record<string, unknown>) : {};
    if (listed(data[HONOR_EXPIRED_TOKENS_FIELD], token)) {
      return { kind: 'outcome', code, outcome: { status: 'dead_token', reason: `honor: token listed in ${HONOR_EXPIRED_TOKENS_FIELD}`, httpStatus } };
    }
    if (listed(data[HONOR_FAILED_TOKENS_FIELD], token)) {
      return { kind: 'outcome', code, outcome: { status: 'retry', reason: `honor: token listed in ${HONOR_FAILED_TOKENS_FIELD}`, httpStatus } };
    }
    const requestId = data.requestId ?? body?.requestId;
    return { kind: 'outcome', code, outcome: { status: 'delivered', httpStatus, ...(typeof requestId === 'string' ? { vendorId: requestId } : {}) } };
  }
  const byStatus = HONOR_HTTP_ACTIONS[httpStatus];
  if (byStatus && byStatus.action !== 'retry' && byStatus.action !== 'delivered') {
    return { kind: 'outcome', ...withCode, outcome: { status: byStatus.action, reason: `${what} (${byStatus.meaning})`, httpStatus } };
  }
  // unverified error table: a bounded retry is safe; pruning or dropping on a guess is not.
  return {
    kind: 'outcome',
    ...withCode,
    outcome: { status: 'retry', reason: `${what} (unclassified; Honor's code table is unverified)`, httpStatus, ...(after !== undefined ? { retryAfterMs: after } : {}) },
  };
}
