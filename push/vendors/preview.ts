/** The shape a vendor's preview() shows for an HTTP request it would send (sandbox, docs, tests). */
import type { PreviewResult, PushOutcome } from './contract.ts';

/** Shown instead of a secret, an access token or a device token. */
export const REDACTED = '<redacted>';

export interface BuiltRequest {
  request: { method: string; url: string; headers: Record<string, string> };
  truncated: boolean;
}

/** The request as it would be sent, with `body` already redacted and the Authorization header replaced. */
export function requestPreview(built: BuiltRequest, body: Record<string, unknown>, authorization: string): PreviewResult {
  return {
    ok: true,
    request: { method: built.request.method, url: built.request.url, headers: { ...built.request.headers, authorization }, body },
    truncated: built.truncated,
  };
}

/** Why a vendor's payload builder made no request: what preview() shows, and what send() answers as `rejected`. */
export type BuildRefusal = { reason: 'payload_too_large' } | { reason: 'not_supported'; detail: string };

export function refusalPreview(refusal: BuildRefusal): PreviewResult {
  return refusal.reason === 'not_supported' ? { ok: false, reason: 'not_supported', detail: refusal.detail } : { ok: false, reason: 'payload_too_large' };
}

export function refusalOutcome(refusal: BuildRefusal): PushOutcome {
  return { status: 'rejected', reason: refusal.reason === 'not_supported' ? `not_supported: ${refusal.detail}` : 'payload_too_large' };
}
