// Pure classification of a MiPush answer (HTTP status + JSON body) into a PushOutcome.

import type { PushOutcome } from '../contract.ts';
import { parseJsonObject, retryAfterMs, type VendorResponse } from '../http.ts';
import { msUntilNextBeijingMidnight, XIAOMI_CODE, XIAOMI_CODE_ACTIONS, XIAOMI_HTTP_ACTIONS } from './xiaomi-facts.ts';

type Answer = Pick<VendorResponse, 'status' | 'headers' | 'text' | 'error'>;


const clip = (s: unknown): string => String(s ?? '').slice(0, 200);

/** `data.bad_regids` is a comma-separated string (MZ MiDataResponse); accept an array too. */
function badRegids(data: Record<string, unknown>): string[] {
  const raw = data.bad_regids;
  if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  return Array.isArray(raw) ? raw.map(String) : [];
}

export function classifyXiaomiAnswer(answer: Answer, token: string, nowMs: number): { outcome: PushOutcome; code?: number } {
  const httpStatus = answer.status;
  if (httpStatus === 0) return { outcome: { status: 'retry', reason: `xiaomi: no answer (${answer.error ?? 'network error'})` } };
  const headerDelay = retryAfterMs(answer.headers, nowMs);
  const body = parseJsonObject(answer.text);
  const code = body !== undefined && body.code !== undefined && body.code !== null && Number.isFinite(Number(body.code)) ? Number(body.code) : undefined;

  if (code === XIAOMI_CODE.OK && (body?.result === undefined || body.result === 'ok')) {
    const data = typeof body?.data === 'object' && body.data !== null ? (body.data as Record<string, unknown>) : {};
    if (badRegids(data).includes(token)) return { code, outcome: { status: 'dead_token', reason: 'xiaomi: registration id listed in bad_regids', httpStatus } };
    return { code, outcome: { status: 'delivered', httpStatus, ...(typeof data.id === 'string' ? { vendorId: data.id } : {}) } };
  }

  const vendorText = [body?.description, body?.reason].filter((v) => v !== undefined).map(clip).join('; ');
  const known = code !== undefined ? XIAOMI_CODE_ACTIONS[code] : undefined;
  if (code !== undefined && known) {
    const reason = `xiaomi ${code} ${known.meaning}${vendorText ? `: ${vendorText}` : ''}`;
    if (known.action === 'retry') {
      const delay = headerDelay ?? (known.retryAfter === 'next_day' ? msUntilNextBeijingMidnight(nowMs) : known.retryAfter);
      return { code, outcome: { status: 'retry', reason, httpStatus, ...(delay !== undefined ? { retryAfterMs: delay } : {}) } };
    }
    return { code, outcome: { status: known.action, reason, httpStatus } as PushOutcome };
  }
  const byStatus = XIAOMI_HTTP_ACTIONS[httpStatus];
  const what = code !== undefined ? `unknown code ${code}${vendorText ? `: ${vendorText}` : ''}` : `HTTP ${httpStatus}`;
  if (byStatus && byStatus.action !== 'retry' && byStatus.action !== 'delivered') {
    return { ...(code !== undefined ? { code } : {}), outcome: { status: byStatus.action, reason: `xiaomi ${what} (${byStatus.meaning})`, httpStatus } };
  }
  // Unknown answer: a bounded retry is safe; pruning or dropping is not.
  return {
    ...(code !== undefined ? { code } : {}),
    outcome: { status: 'retry', reason: `xiaomi ${what}: unexpected answer`, httpStatus, ...(headerDelay !== undefined ? { retryAfterMs: headerDelay } : {}) },
  };
}
