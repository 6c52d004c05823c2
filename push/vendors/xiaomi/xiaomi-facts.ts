// Xiaomi MiPush server API: every wire fact the provider relies on, in one place. Sources:
// /work/shared/spec/vendor-push-apis.md §1.3 (dev.mi.com pId=1559/1560/2314, mizhousoft/push-sdk
// = "MZ", curltech/go-push-sdk = "CT"). Hosts are configuration defaults only.

import type { PushOutcome } from '../contract.ts';

/** Regional API hosts. [impl] the regional names beyond cn/global are from CT and a Go client's docs. */
export const XIAOMI_REGION_URLS = {
  cn: 'https://api.xmpush.xiaomi.com',
  global: 'https://api.xmpush.global.xiaomi.com',
  /** [impl] Moscow (Russia) */
  ru: 'https://ru-api.xmpush.global.xiaomi.com',
  /** [impl] Mumbai (India) */
  in: 'https://idmb-api.xmpush.global.xiaomi.com',
  /** [impl] Frankfurt (EEA + UK) */
  eu: 'https://fr-api.xmpush.global.xiaomi.com',
  /** [impl] Singapore (rest of the world) */
  sg: 'https://sgp-api.xmpush.global.xiaomi.com',
} as const;
export type XiaomiRegion = keyof typeof XIAOMI_REGION_URLS;
export const XIAOMI_REGIONS = Object.keys(XIAOMI_REGION_URLS) as XiaomiRegion[];

/** Send to registration ids; v3 accepts a comma list in restricted_package_name. */
export const XIAOMI_SEND_PATH = '/v3/message/regid';

/** `Authorization: key=<AppSecret>` (lower-case `key`); no token exchange. */
export const xiaomiAuthorization = (appSecret: string): string => `key=${appSecret}`;
export const XIAOMI_CONTENT_TYPE = 'application/x-www-form-urlencoded;charset=UTF-8';

/**
 * Text limits: title "< 50", description "< 128" characters. unverified: the unit; we count
 * UTF-16 code units (Java's String.length()), which is never fewer than characters.
 */
export const XIAOMI_TITLE_MAX = 49;
export const XIAOMI_DESCRIPTION_MAX = 127;
/** Registration ids per request (comma-separated). We always send one. */
export const XIAOMI_MAX_REGIDS = 1000;
/** notify_id is an int; same id replaces the earlier notification, none = only one shown at all. */
export const XIAOMI_NOTIFY_ID_MAX = 0x7fffffff;

/** notify_type: -1 all, 1 sound, 2 vibrate, 4 lights (OR-able). */
export const XIAOMI_NOTIFY_TYPE_ALL = -1;
/** extra.notify_effect: 1 open the launcher activity, 2 an intent (extra.intent_uri), 3 a web page (extra.web_uri). */
export const XIAOMI_EFFECT = { launcher: '1', intent: '2', web: '3' } as const;

/**
 * `extra.*` keys with a meaning to MiPush. Custom data keys with these names are sent in
 * `payload` only, so a click-through key can never switch a vendor feature.
 */
export const XIAOMI_RESERVED_EXTRA = new Set([
  'notify_effect', 'intent_uri', 'web_uri', 'notify_foreground', 'channel_id', 'channel_name', 'sound_uri', 'ticker',
  'notification_style_type', 'notification_large_icon_uri', 'notification_bigPic_uri', 'callback', 'callback.param',
  'callback.type', 'template_id', 'template_param', 'flow_control', 'jobkey', 'layout_name', 'layout_value', 'locale',
  'locale_not_in', 'model', 'model_not_in', 'app_version', 'app_version_not_in', 'connpt',
]);

export const XIAOMI_CODE = {
  OK: 0,
  SEND_FAILED_NO_VALID_TARGET: 20301,
  AUTH_FAILED: 21301,
  BAD_PACKAGE: 22022,
} as const;

/** Wait before retrying a "too frequent" answer (our policy; MiPush sends no Retry-After). */
export const XIAOMI_FREQUENCY_RETRY_MS = 60_000;

/**
 * `code` → what it means for us (dev.mi.com pId=1560; 20301 as "all tokens bad" is MZ's reading,
 * [impl]). `retryAfter: 'next_day'` = the daily quota: retry after the next midnight in Beijing
 * (unverified: the reset time of the daily quota).
 */
export const XIAOMI_CODE_ACTIONS: Readonly<Record<number, { action: PushOutcome['status']; meaning: string; retryAfter?: number | 'next_day' }>> = {
  [-1]: { action: 'retry', meaning: 'unknown error' },
  1: { action: 'retry', meaning: 'internal error' },
  10001: { action: 'retry', meaning: 'system error' },
  10002: { action: 'retry', meaning: 'service busy' },
  10016: { action: 'rejected', meaning: 'missing parameter' },
  10017: { action: 'rejected', meaning: 'illegal parameter' },
  10027: { action: 'retry', meaning: 'API called too frequently', retryAfter: XIAOMI_FREQUENCY_RETRY_MS },
  10031: { action: 'config_error', meaning: 'app is blacklisted' },
  10034: { action: 'retry', meaning: 'daily message quota exceeded', retryAfter: 'next_day' },
  20301: { action: 'dead_token', meaning: 'send failed: no valid target ([impl] MZ: all tokens bad)' },
  21301: { action: 'config_error', meaning: 'authentication failed (check appSecret)' },
  21305: { action: 'rejected', meaning: 'missing parameter' },
  22022: { action: 'config_error', meaning: 'bad package name (check packageName)' },
  26004: { action: 'retry', meaning: 'broadcast too frequent', retryAfter: XIAOMI_FREQUENCY_RETRY_MS },
  27001: { action: 'config_error', meaning: 'channel does not match (check channelId)' },
  // unverified: "device not found" on a regid push; not a reason to prune without confirmation.
  65003: { action: 'retry', meaning: 'device not found' },
  65009: { action: 'rejected', meaning: 'content too long' },
};

/** Answers with no JSON code: 401/403 are a credential problem; anything else is retry. */
export const XIAOMI_HTTP_ACTIONS: Readonly<Record<number, { action: PushOutcome['status']; meaning: string }>> = {
  401: { action: 'config_error', meaning: 'authentication failed' },
  403: { action: 'config_error', meaning: 'forbidden' },
  404: { action: 'config_error', meaning: 'wrong URL (check region / pushUrl)' },
};

/** Milliseconds until the next 00:00 in UTC+8 (Beijing), when the daily quota is assumed to reset. */
export function msUntilNextBeijingMidnight(nowMs: number): number {
  const day = 86_400_000;
  const beijing = nowMs + 8 * 3_600_000;
  return day - (((beijing % day) + day) % day);
}
