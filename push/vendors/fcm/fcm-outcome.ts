// Maps firebase-admin errors to PushOutcome by their `code` property.
//
// firebase-admin v13 does not expose the HTTP status or headers of a failed
// send (FirebaseMessagingError carries only code + message), so httpStatus
// and retryAfterMs are left unset. It does honour Retry-After (<= 60 s) and
// retries 503/ECONNRESET/ETIMEDOUT internally before the error reaches us.

import type { PushOutcome } from '../contract.ts';

const DEAD = new Set(['messaging/registration-token-not-registered', 'messaging/invalid-registration-token']);
const CONFIG = new Set([
  'messaging/mismatched-credential', // SENDER_ID_MISMATCH / PERMISSION_DENIED
  'messaging/third-party-auth-error', // THIRD_PARTY_AUTH_ERROR / UNAUTHENTICATED / APNS_AUTH_ERROR
  'messaging/authentication-error', // non-JSON 401/403
  'messaging/invalid-package-name',
  'app/invalid-app-options',
  'app/invalid-credential',
]);
const RETRY = new Set([
  'messaging/message-rate-exceeded', // QUOTA_EXCEEDED / RESOURCE_EXHAUSTED
  'messaging/device-message-rate-exceeded',
  'messaging/topics-message-rate-exceeded',
  'messaging/server-unavailable', // UNAVAILABLE
  'messaging/internal-error', // INTERNAL
  'messaging/unknown-error',
  'app/network-error',
  'app/network-timeout',
  'app/internal-error',
]);
const REJECTED = new Set([
  'messaging/invalid-payload',
  'messaging/invalid-data-payload-key',
  'messaging/payload-size-limit-exceeded',
  'messaging/invalid-options',
  'messaging/invalid-recipient',
]);

// OAuth2 grant failures that will not fix themselves (wrong/revoked key, bad
// clock, disabled account). Anything else while fetching a token — network
// errors, Google 5xx — is transient even though firebase-admin labels every
// token failure `app/invalid-credential`.
const PERMANENT_GRANT_ERROR = /invalid_grant|invalid_client|unauthorized_client|access_denied|invalid_scope|Failed to parse/i;

// FCM answers INVALID_ARGUMENT both for malformed messages and for tokens that
// were never valid; only the message text tells them apart.
const INVALID_TOKEN_TEXT = /registration token/i;

export function classifyFcmError(err: unknown): PushOutcome {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const message = err instanceof Error ? err.message : String(err);
  const reason = code ? `${code}: ${message}` : message;

  if (DEAD.has(code)) return { status: 'dead_token', reason };
  if (code === 'messaging/invalid-argument') {
    return INVALID_TOKEN_TEXT.test(message) ? { status: 'dead_token', reason } : { status: 'rejected', reason };
  }
  if (code === 'app/invalid-credential' && !PERMANENT_GRANT_ERROR.test(message)) {
    return { status: 'retry', reason: `oauth token fetch failed: ${reason}` };
  }
  if (CONFIG.has(code)) return { status: 'config_error', reason };
  if (REJECTED.has(code)) return { status: 'rejected', reason };
  if (RETRY.has(code)) return { status: 'retry', reason };
  // Unknown failure (including plain network errors): retrying is safe because
  // the queue bounds attempts, dropping would silently lose the push.
  return { status: 'retry', reason };
}
