// Huawei Push Kit (HMS Core, Android), server API v1: every wire fact the provider relies on, in
// one place so a wrong one is corrected here and nowhere else. Sources: /work/shared/spec/
// vendor-push-apis.md §1.1 (Huawei docs, HMS-Core/hms-push-serverdemo-nodejs = "HMS-node",
// mizhousoft/push-sdk = "MZ"). Hosts are configuration defaults only.

import type { PushOutcome, PushPurpose } from '../contract.ts';

/** Production OAuth token endpoint (client_credentials). Older demos use /oauth2/v2/token. */
export const HUAWEI_AUTH_URL = 'https://oauth-login.cloud.huawei.com/oauth2/v3/token';
/** Production push API origin; the send path is appended. */
export const HUAWEI_PUSH_URL = 'https://push-api.cloud.huawei.com';
export const huaweiSendPath = (appId: string): string => `/v1/${encodeURIComponent(appId)}/messages:send`;

export const HUAWEI_SEND_CONTENT_TYPE = 'application/json;charset=utf-8';
export const HUAWEI_AUTH_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** Access tokens live 1 hour (`expires_in` in the answer is what we use); refresh this early. */
export const HUAWEI_TOKEN_REFRESH_EARLY_MS = 120_000;
/** Fallback lifetime when an answer has no usable `expires_in`. */
export const HUAWEI_TOKEN_DEFAULT_TTL_SEC = 3600;

/** Whole request body (JSON bytes) limit; more answers 80300008. */
export const HUAWEI_MAX_BODY_BYTES = 4096;
/** Tokens per request; outside 1..1000 answers 80300010. We always send exactly one. */
export const HUAWEI_MAX_TOKENS = 1000;
/** `android.notification.notify_id` is a Java int; we stay in the non-negative half. */
export const HUAWEI_NOTIFY_ID_MAX = 0x7fffffff;

/** badge.set_num range. unverified: 0..99 is from Huawei's field description as quoted by third parties. */
export const HUAWEI_BADGE_MAX = 99;

/** android.notification.importance values (HMS-node message-validator.ts). */
export const HUAWEI_IMPORTANCE = ['LOW', 'NORMAL', 'HIGH'] as const;
/** android.notification.click_action.type: 1 intent/action, 2 URL, 3 open the app, 4 rich resource. */
export const HUAWEI_CLICK_INTENT = 1;
export const HUAWEI_CLICK_OPEN_APP = 3;

/**
 * `android.category` per purpose (MZ HuaweiConstants: IM, VOIP, SUBSCRIPTION, …, MARKETING).
 * Undefined = no self-classification (data-only badge updates).
 * [impl] the category names come from MZ's constants, not a Huawei page we could read.
 */
export const HUAWEI_CATEGORY: Record<PushPurpose, string | undefined> = {
  message: 'IM',
  call_ring: 'VOIP',
  missed_call: 'IM',
  call_over: 'VOIP',
  badge_update: undefined,
  test: 'IM',
};

/** Result codes (the `code` of the answer is a STRING). Source: MZ HwResultCodeMap.java. */
export const HUAWEI_CODE = {
  SUCCESS: '80000000',
  PARTIAL_SUCCESS: '80100000',
  PARAM_ERROR: '80100001',
  SYS_MSG_NEEDS_ONE_TOKEN: '80100002',
  BAD_MESSAGE_STRUCTURE: '80100003',
  TTL_BEFORE_NOW: '80100004',
  BAD_COLLAPSE_KEY: '80100013',
  SENSITIVE_CONTENT: '80100016',
  OAUTH_AUTH_ERROR: '80200001',
  OAUTH_TOKEN_EXPIRED: '80200003',
  APP_FORBIDDEN: '80300002',
  INVALID_TOKENS: '80300007',
  BODY_TOO_BIG: '80300008',
  TOO_MANY_TOKENS: '80300010',
  INTERNAL_ERROR: '81000001',
} as const;

/**
 * What each code means for us. `refresh_token` is handled inside the provider (refresh the
 * access token and resend once, as HMS-node does on "80200003"); the dispatcher never sees it.
 */
export type HuaweiCodeAction = PushOutcome['status'] | 'refresh_token' | 'partial';

export const HUAWEI_CODE_ACTIONS: Readonly<Record<string, { action: HuaweiCodeAction; meaning: string }>> = {
  [HUAWEI_CODE.SUCCESS]: { action: 'delivered', meaning: 'success' },
  [HUAWEI_CODE.PARTIAL_SUCCESS]: { action: 'partial', meaning: 'some tokens failed; msg lists illegal_tokens' },
  [HUAWEI_CODE.PARAM_ERROR]: { action: 'rejected', meaning: 'parameter error' },
  [HUAWEI_CODE.SYS_MSG_NEEDS_ONE_TOKEN]: { action: 'rejected', meaning: 'system message needs exactly one token' },
  [HUAWEI_CODE.BAD_MESSAGE_STRUCTURE]: { action: 'rejected', meaning: 'incorrect message structure' },
  [HUAWEI_CODE.TTL_BEFORE_NOW]: { action: 'rejected', meaning: 'message expiry is before now' },
  [HUAWEI_CODE.BAD_COLLAPSE_KEY]: { action: 'rejected', meaning: 'invalid collapse_key' },
  [HUAWEI_CODE.SENSITIVE_CONTENT]: { action: 'rejected', meaning: 'message contains sensitive content' },
  [HUAWEI_CODE.OAUTH_AUTH_ERROR]: { action: 'config_error', meaning: 'OAuth authentication error (missing or wrong access token)' },
  [HUAWEI_CODE.OAUTH_TOKEN_EXPIRED]: { action: 'refresh_token', meaning: 'OAuth access token expired' },
  [HUAWEI_CODE.APP_FORBIDDEN]: { action: 'config_error', meaning: 'app is not allowed to send push messages' },
  [HUAWEI_CODE.INVALID_TOKENS]: { action: 'dead_token', meaning: 'all tokens are invalid' },
  [HUAWEI_CODE.BODY_TOO_BIG]: { action: 'rejected', meaning: 'message body exceeds 4096 bytes' },
  [HUAWEI_CODE.TOO_MANY_TOKENS]: { action: 'rejected', meaning: 'token count outside 1..1000' },
  [HUAWEI_CODE.INTERNAL_ERROR]: { action: 'retry', meaning: 'internal error' },
};

/**
 * HTTP statuses without a known `code` (Huawei "push-scenariozed-api-response"): 401 auth failure,
 * 404 wrong URL, 500 internal, 502 connection error (retry), 503 flow control (retry, honour
 * Retry-After). Anything else falls through to retry (the queue bounds attempts).
 */
export const HUAWEI_HTTP_ACTIONS: Readonly<Record<number, { action: PushOutcome['status']; meaning: string }>> = {
  401: { action: 'config_error', meaning: 'authentication failure' },
  403: { action: 'config_error', meaning: 'forbidden' },
  404: { action: 'config_error', meaning: 'wrong URL (check the app id and pushUrl)' },
  500: { action: 'retry', meaning: 'internal error' },
  502: { action: 'retry', meaning: 'connection error' },
  503: { action: 'retry', meaning: 'flow control' },
};

/**
 * OAuth token endpoint failures: any 4xx other than 429 is a credential problem (wrong client_id
 * or client_secret) and must not be retried or prune anything; 429, 5xx and network errors are
 * transient. unverified: Huawei's exact error body (`error`, `sub_error`, `error_description`;
 * numeric `error` values in third-party reports) — we only read it for the log/reason text.
 */
export const HUAWEI_AUTH_TRANSIENT_STATUS = (status: number): boolean => status === 0 || status === 429 || status >= 500;

/** The token endpoint's facts, as the shared OAuth cache (push/vendors/oauth.ts) takes them. */
export const HUAWEI_TOKEN_ENDPOINT = {
  contentType: HUAWEI_AUTH_CONTENT_TYPE,
  refreshEarlyMs: HUAWEI_TOKEN_REFRESH_EARLY_MS,
  defaultTtlSec: HUAWEI_TOKEN_DEFAULT_TTL_SEC,
  transient: HUAWEI_AUTH_TRANSIENT_STATUS,
} as const;
