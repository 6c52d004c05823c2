// Pure classification of a Huawei v1 send answer (HTTP status + body) into a PushOutcome, or the
// provider-internal "refresh the access token and resend once" (80200003).

import type { PushOutcome } from '../contract.ts';
import { retryAfterMs, type VendorResponse } from '../http.ts';
import { HUAWEI_CODE, HUAWEI_CODE_ACTIONS, HUAWEI_HTTP_ACTIONS } from './huawei-facts.ts';

export type HuaweiClassified =
  | { kind: 'outcome'; outcome: PushOutcome; code?: string }
  | { kind: 'refresh_token'; reason: string; httpStatus: number; code: string };

type Answer = Pick<VendorResponse, 'status' | 'headers' | 'text' | 'error'>;

function parseObject(text: unknown): Record<string, unknown> | undefined {
  if (typeof text === 'object' && text !== null && !Array.isArray(text)) return text as Record<string, unknown>;
  if (typeof text !== 'string') return undefined;
  try {
    return parseObject(JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

const clip = (s: unknown): string => String(s ?? '').slice(0, 200);

/**
 * 80100000: `msg` is a JSON string `{"success":n,"failure":m,"illegal_tokens":[…]}`. We send one
 * token per request, so our token listed there means it is dead; otherwise it went through.
 */
function partial(msg: unknown, token: string, httpStatus: number, requestId: string | undefined): PushOutcome {
  const detail = parseObject(msg);
  const illegal = Array.isArray(detail?.illegal_tokens) ? (detail.illegal_tokens as unknown[]) : [];
  if (illegal.includes(token)) return { status: 'dead_token', reason: `huawei ${HUAWEI_CODE.PARTIAL_SUCCESS}: token listed in illegal_tokens`, httpStatus };
  if (typeof detail?.success === 'number' && detail.success > 0) {
    return { status: 'delivered', httpStatus, ...(requestId !== undefined ? { vendorId: requestId } : {}) };
  }
  return { status: 'retry', reason: `huawei ${HUAWEI_CODE.PARTIAL_SUCCESS}: unreadable partial-success detail`, httpStatus };
}

export function classifyHuaweiAnswer(answer: Answer, token: string, nowMs: number): HuaweiClassified {
  const httpStatus = answer.status;
  if (httpStatus === 0) return { kind: 'outcome', outcome: { status: 'retry', reason: `huawei: no answer (${answer.error ?? 'network error'})` } };
  const after = retryAfterMs(answer.headers, nowMs);
  const retry = (reason: string): PushOutcome => ({ status: 'retry', reason, httpStatus, ...(after !== undefined ? { retryAfterMs: after } : {}) });

  const body = parseObject(answer.text);
  const code = body?.code !== undefined && body.code !== null ? String(body.code) : undefined;
  const requestId = typeof body?.requestId === 'string' ? body.requestId : undefined;
  const known = code !== undefined ? HUAWEI_CODE_ACTIONS[code] : undefined;

  if (code !== undefined && known) {
    const reason = `huawei ${code} ${known.meaning}${body?.msg !== undefined ? `: ${clip(body.msg)}` : ''}`;
    switch (known.action) {
      case 'delivered':
        return { kind: 'outcome', code, outcome: { status: 'delivered', httpStatus, ...(requestId !== undefined ? { vendorId: requestId } : {}) } };
      case 'partial':
        return { kind: 'outcome', code, outcome: partial(body?.msg, token, httpStatus, requestId) };
      case 'refresh_token':
        return { kind: 'refresh_token', code, reason, httpStatus };
      case 'retry':
        return { kind: 'outcome', code, outcome: retry(reason) };
      default:
        return { kind: 'outcome', code, outcome: { status: known.action, reason, httpStatus } };
    }
  }

  const byStatus = HUAWEI_HTTP_ACTIONS[httpStatus];
  const what = code !== undefined ? `unknown code ${code}${body?.msg !== undefined ? `: ${clip(body.msg)}` : ''}` : `HTTP ${httpStatus}`;
  if (byStatus) {
    const reason = `huawei ${what} (${byStatus.meaning})`;
    if (byStatus.action === 'retry') return { kind: 'outcome', ...(code !== undefined ? { code } : {}), outcome: retry(reason) };
    return { kind: 'outcome', ...(code !== undefined ? { code } : {}), outcome: { status: byStatus.action, reason, httpStatus } as PushOutcome };
  }
  // Unknown answer: retrying is safe (the queue bounds attempts); dropping or pruning is not.
  return { kind: 'outcome', ...(code !== undefined ? { code } : {}), outcome: retry(`huawei ${what}: unexpected answer`) };
}
