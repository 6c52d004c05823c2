/**
 * Pure classification of what web-push's sendNotification() gave back (DEV-7, OPS-3): a
 * SendResult for any 2xx, a WebPushError (statusCode, headers, body) for any other status,
 * a plain Error for network failures and timeouts.
 */
import type { PushOutcome } from '../contract.ts';
import { retryAfterMs } from '../http.ts';
import { WEBPUSH_STATUS_CLASS } from './webpush-facts.ts';

interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body?: string;
}

const firstHeader = (headers: HttpAnswer['headers'], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export function classifyWebPushSuccess(result: HttpAnswer): PushOutcome {
  const location = firstHeader(result.headers, 'location');
  return { status: 'delivered', httpStatus: result.statusCode, ...(location ? { vendorId: location } : {}) };
}

function isHttpAnswer(err: unknown): err is HttpAnswer {
  return typeof err === 'object' && err !== null && typeof (err as { statusCode?: unknown }).statusCode === 'number'
    && typeof (err as { headers?: unknown }).headers === 'object';
}

/** The service's short explanation (autopush sends JSON with `errno` and `message`), bounded. */
function detail(body: string | undefined): string {
  if (!body) return '';
  try {
    const parsed = JSON.parse(body) as { errno?: unknown; message?: unknown; error?: unknown };
    const parts = [parsed.errno !== undefined ? `errno ${String(parsed.errno)}` : '', typeof parsed.message === 'string' ? parsed.message : typeof parsed.error === 'string' ? parsed.error : ''];
    const text = parts.filter(Boolean).join(': ');
    return text ? ` (${text.slice(0, 200)})` : '';
  } catch {
    return ` (${body.slice(0, 120).replace(/\s+/g, ' ')})`;
  }
}

export function classifyWebPushError(err: unknown, now: number): PushOutcome {
  if (!isHttpAnswer(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return { status: 'retry', reason: `web push: ${message.slice(0, 200)}` };
  }
  const status = err.statusCode;
  const reason = `web push: HTTP ${status}${detail(err.body)}`;
  if (WEBPUSH_STATUS_CLASS.dead.has(status)) return { status: 'dead_token', reason, httpStatus: status };
  if (WEBPUSH_STATUS_CLASS.tooLarge.has(status)) return { status: 'rejected', reason, httpStatus: status };
  if (WEBPUSH_STATUS_CLASS.config.has(status)) return { status: 'config_error', reason, httpStatus: status };
  if (WEBPUSH_STATUS_CLASS.rateLimited.has(status) || status >= 500) {
    const after = retryAfterMs(err.headers, now);
    return { status: 'retry', reason, httpStatus: status, ...(after !== undefined ? { retryAfterMs: after } : {}) };
  }
  // Other 4xx (405, 415, …): this request is wrong and will stay wrong.
  if (status >= 400 && status < 500) return { status: 'rejected', reason, httpStatus: status };
  return { status: 'retry', reason, httpStatus: status };
}
