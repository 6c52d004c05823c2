// Honor Push (split from Huawei in 2020: the same API shape with camelCase JSON): every wire fact
// the provider relies on, in one place. Source: /work/shared/spec/vendor-push-apis.md §1.2 (a copy
// of Honor's "发送下行消息" guide, plus third-party senders). Honor's own response-code page
// ("下行消息响应码") was NOT available, so the answer table below is conservative and marked.
// Hosts are configuration defaults only.

import type { PushOutcome } from '../contract.ts';

/** Production token endpoint (Keycloak realm). [impl] several SDKs use the short /auth/token. */
export const HONOR_AUTH_URL = 'https://iam.developer.honor.com/auth/realms/developer/protocol/openid-connect/token';
/** Production push API origin; the send path is appended. */
export const HONOR_PUSH_URL = 'https://push-api.cloud.honor.com';
export const honorSendPath = (appId: string): string => `/api/v1/${encodeURIComponent(appId)}/sendMessage`;

export const HONOR_SEND_CONTENT_TYPE = 'application/json; charset=UTF-8';
export const HONOR_AUTH_CONTENT_TYPE = 'application/x-www-form-urlencoded';
/** Request header carrying the send time in Unix milliseconds (Honor guide). */
export const HONOR_TIMESTAMP_HEADER = 'timestamp';

/** Refresh this long before `expires_in` runs out (our policy, as for Huawei). */
export const HONOR_TOKEN_REFRESH_EARLY_MS = 120_000;
/** unverified: lifetime when the answer has no usable `expires_in` (Huawei's is one hour). */
export const HONOR_TOKEN_DEFAULT_TTL_SEC = 3600;

/** unverified: body limit; assumed to be Huawei's 4096 bytes until Honor's page says otherwise. */
export const HONOR_MAX_BODY_BYTES = 4096;
/** unverified: badge.setNum range, assumed to be Huawei's 0..99. */
export const HONOR_BADGE_MAX = 99;
/** notifyId is a Java int; we stay in the non-negative half. */
export const HONOR_NOTIFY_ID_MAX = 0x7fffffff;

/** android.notification.importance: NORMAL = service/communication, LOW = marketing (Honor guide). */
export const HONOR_IMPORTANCE = ['LOW', 'NORMAL'] as const;
/** clickAction.type: 1 intent/action, 2 URL, 3 open the app (same numbering as Huawei). */
export const HONOR_CLICK_INTENT = 1;
export const HONOR_CLICK_URL = 2;
export const HONOR_CLICK_OPEN_APP = 3;

/** [impl] success is `code` 200, as a number or a string (two independent third-party senders). */
export const HONOR_SUCCESS_CODE = '200';

/**
 * unverified: Huawei's OAuth codes, assumed inherited. Whatever the code, an HTTP 401 on send
 * means the access token was not accepted: the provider refreshes it and resends once, and a
 * second refusal is config_error.
 */
export const HONOR_AUTH_CODES: ReadonlySet<string> = new Set(['80200001', '80200003']);

/**
 * unverified: token lists in a success answer (`data.expireTokens`, `data.failTokens`), from
 * memory of Honor's response page, not from a copy we could read. Our token in expireTokens is the
 * only answer we prune on; failTokens is retried.
 */
export const HONOR_EXPIRED_TOKENS_FIELD = 'expireTokens';
export const HONOR_FAILED_TOKENS_FIELD = 'failTokens';

/**
 * HTTP statuses without a success code. Everything not listed is retry: with Honor's table
 * unverified, a retry bounded by the queue is the safe answer (never prune on a guess).
 */
export const HONOR_HTTP_ACTIONS: Readonly<Record<number, { action: PushOutcome['status']; meaning: string }>> = {
  403: { action: 'config_error', meaning: 'forbidden (push not enabled for this app?)' },
  404: { action: 'config_error', meaning: 'wrong URL (check the app id and pushUrl)' },
};

/** Token endpoint: 4xx except 429 = the credential is refused (config_error); the rest is transient. */
export const HONOR_AUTH_TRANSIENT_STATUS = (status: number): boolean => status === 0 || status === 429 || status >= 500;

/** The token endpoint's facts, as the shared OAuth cache (push/vendors/oauth.ts) takes them. */
export const HONOR_TOKEN_ENDPOINT = {
  contentType: HONOR_AUTH_CONTENT_TYPE,
  refreshEarlyMs: HONOR_TOKEN_REFRESH_EARLY_MS,
  defaultTtlSec: HONOR_TOKEN_DEFAULT_TTL_SEC,
  transient: HONOR_AUTH_TRANSIENT_STATUS,
} as const;
