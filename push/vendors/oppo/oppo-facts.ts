/**
 * Every wire fact about OPPO (HeyTap) Push in one place, with where it comes from, so a fact
 * that turns out wrong is corrected here and nowhere else. Sources are the rows of
 * shared/spec/vendor-push-apis.md §1.4: the OPPO doc copy ("调用地址，公共参数和返回码"),
 * the OPPO server SDK's ReturnCode, and [impl] = mizhousoft/push-sdk (MZ), third-party code.
 * The fake (tools/fakes/oppo-server.ts) imports the same facts, so both sides move together.
 */
import { untilNextFullHourMs } from '../code-classes.ts';

/** Production hosts, only ever defaults: every credential can point elsewhere (`endpoints`). */
export const OPPO_HOSTS = {
  cn: 'https://api.push.oppomobile.com',
  intl: 'https://api-intl.push.oppomobile.com',
} as const;
export type OppoRegion = keyof typeof OPPO_HOSTS;

export const OPPO_AUTH_PATH = '/server/v1/auth';
export const OPPO_UNICAST_PATH = '/server/v1/message/notification/unicast';

/** Both calls are HTML-form posts; the message itself is a JSON string in the `message` field. */
export const OPPO_FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded;charset=UTF-8';

/** auth_token is valid 24 h from its create_time (doc copy). The answer carries no expiry of its own. */
export const OPPO_TOKEN_TTL_MS = 24 * 3600_000;
/** We take a new token this long before the 24 h are up, so no send races the expiry. */
export const OPPO_TOKEN_REFRESH_MARGIN_MS = 10 * 60_000;
// unverified: OPPO's allowed clock skew for `timestamp`; the fake refuses beyond this (code 19).
export const OPPO_TIMESTAMP_WINDOW_MS = 10 * 60_000;

/** target_type 2 = registration id (5 alias, 6 tag) [impl] MZ OppoConstants. */
export const OPPO_TARGET_REGISTRATION_ID = 2;
/** style 1 = standard notification [impl] MZ OppoConstants. */
export const OPPO_STYLE_STANDARD = 1;
/** click_action_type: 0 launch the app, 4 open an activity by class name [impl] MZ OppoConstants. */
export const OPPO_CLICK_LAUNCH_APP = 0;
export const OPPO_CLICK_OPEN_ACTIVITY = 4;

export const OPPO_LIMITS = {
  // [impl] MZ OppoNotification: title 1..50 characters, "中英文均以一个计算" (every character counts 1).
  // We count UTF-16 units (what a Java server's String.length() counts), never fewer than OPPO would.
  titleChars: 50,
  // [impl] MZ: standard style content ≤ 200 characters (only ~50 show on the device).
  contentChars: 200,
  // [impl] MZ: action_parameters is a JSON string of at most "4K" characters; 4000 to be safe.
  actionParametersChars: 4000,
  // [impl] MZ: off_line_ttl in seconds, at most 10 days.
  offLineTtlMaxSec: 10 * 86400,
  offLineTtlMinSec: 1,
  // unverified: the range OPPO accepts for notify_id (a Java Integer in MZ); we stay in 1..2^31-1.
  notifyIdMax: 0x7fffffff,
  // unverified: no documented limit on app_message_id; ours are push ids (UUIDs, 36 chars).
  appMessageIdChars: 64,
} as const;

/** Return codes (`code` in every JSON answer), OPPO doc copy + SDK ReturnCode. */
export const OPPO_CODES = {
  FLOW_CONTROL: -2,
  SERVICE_UNAVAILABLE: -1,
  SUCCESS: 0,
  INVALID_AUTH_TOKEN: 11,
  HTTP_METHOD_NOT_ALLOWED: 12,
  CALL_LIMIT: 13,
  INVALID_APP_KEY: 14,
  MISSING_APP_KEY: 15,
  INVALID_SIGNATURE: 16,
  MISSING_SIGNATURE: 17,
  MISSING_TIMESTAMP: 18,
  INVALID_TIMESTAMP: 19,
  IP_BLACKLISTED: 26,
  ACCESS_DENIED: 27,
  APP_DISABLED: 28,
  MISSING_AUTH_TOKEN: 29,
  NO_PUSH_PERMISSION: 30,
  DAILY_QUOTA_EXCEEDED: 33,
  MISSING_ARGUMENT: 40,
  INVALID_ARGUMENT: 41,
  FREQUENCY_LIMIT: 55,
  INVALID_CATEGORY: 67,
  INVALID_REGISTRATION_ID: 10000,
} as const;

/** What each code means for us (oppo-outcome.ts reads these sets; nothing else lists codes). */
export const OPPO_CODE_CLASS = {
  /** The token we sent is not (or no longer) valid: take a new one and resend once. */
  reauth: new Set<number>([OPPO_CODES.INVALID_AUTH_TOKEN, OPPO_CODES.MISSING_AUTH_TOKEN]),
  /** Flow control, service unavailable, call and frequency limits: try again soon. */
  transient: new Set<number>([OPPO_CODES.FLOW_CONTROL, OPPO_CODES.SERVICE_UNAVAILABLE, OPPO_CODES.CALL_LIMIT, OPPO_CODES.FREQUENCY_LIMIT]),
  /** The daily message quota: try again much later; never a reason to prune the token. */
  quota: new Set<number>([OPPO_CODES.DAILY_QUOTA_EXCEEDED]),
  /** App key, signature, timestamp, IP, permission: an operator must fix the credential. */
  config: new Set<number>([
    OPPO_CODES.INVALID_APP_KEY, OPPO_CODES.MISSING_APP_KEY, OPPO_CODES.INVALID_SIGNATURE, OPPO_CODES.MISSING_SIGNATURE,
    OPPO_CODES.MISSING_TIMESTAMP, OPPO_CODES.INVALID_TIMESTAMP, OPPO_CODES.IP_BLACKLISTED, OPPO_CODES.ACCESS_DENIED,
    OPPO_CODES.APP_DISABLED, OPPO_CODES.NO_PUSH_PERMISSION,
  ]),
  /** This request is wrong and will stay wrong (12, 20–25 method/version/encoding, 40/41 args, 67 category). */
  rejected: new Set<number>([
    OPPO_CODES.HTTP_METHOD_NOT_ALLOWED, 20, 21, 22, 23, 24, 25, OPPO_CODES.MISSING_ARGUMENT, OPPO_CODES.INVALID_ARGUMENT,
    OPPO_CODES.INVALID_CATEGORY,
  ]),
  dead: new Set<number>([OPPO_CODES.INVALID_REGISTRATION_ID]),
} as const;

/**
 * How long to wait after "daily quota exceeded" (33). OPPO does not say when the day's quota
 * resets (unverified: probably 00:00 Beijing time), so we wait until the next full hour, at
 * least five minutes (the reasoning is at untilNextFullHourMs).
 */
export const oppoQuotaRetryAfterMs: (now: number) => number = untilNextFullHourMs;
