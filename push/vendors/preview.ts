/** The shape a vendor's preview() shows for an HTTP request it would send (sandbox, docs, tests). */
import type { PreviewResult } from './contract.ts';

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
