/**
 * Every wire fact about vivo Push in one place, with where it comes from, so a fact that turns
 * out wrong is corrected here and nowhere else. Sources are the rows of
 * shared/spec/vendor-push-apis.md §1.5: the vivo doc copy (qro.cn, v2.x; a v2.9.2 copy on
 * applebyme.cn for 10070/10094/appId), and [impl] = mizhousoft/push-sdk (MZ) or other
 * third-party senders. The fake (tools/fakes/vivo-server.ts) imports the same facts.
 */
import { untilNextFullHourMs } from '../code-classes.ts';

/** Production host, only ever a default: every credential can point elsewhere (`endpoints`). */
export const VIVO_HOST = 'https://api-push.vivo.com.cn';
export const VIVO_AUTH_PATH = '/message/auth';
export const VIVO_SEND_PATH = '/message/send';

/** Both calls are JSON; every call but auth carries the token in this header. */
export const VIVO_AUTH_HEADER = 'authToken';
export const VIVO_CONTENT_TYPE = 'application/json;charset=UTF-8';

/** authToken is valid 1 day (doc copy: "有效期默认为1天"). */
export const VIVO_TOKEN_TTL_MS = 24 * 3600_000;
/** We never use a token in its last hour. */
export const VIVO_TOKEN_EXPIRY_MARGIN_MS = 3600_000;
/**
 * The doc copy asks senders to cache the token centrally and renew it every 1–2 hours. We
 * renew after 2 hours; if renewing fails (10250: the auth calls of the day are used up), the
 * older token goes on being used until its own day is over.
 */
export const VIVO_TOKEN_RENEW_AFTER_MS = 2 * 3600_000;
/** Auth calls per app and day (doc copy v2.x; v2.9.2 replaces it by 10 per second). */
export const VIVO_AUTH_CALLS_PER_DAY = 10_000;
/** The auth timestamp must be within ±10 minutes of vivo's clock (doc copy). */
export const VIVO_TIMESTAMP_WINDOW_MS = 10 * 60_000;

export const VIVO_NOTIFY_TYPE = { none: 1, ring: 2, vibrate: 3, ringAndVibrate: 4 } as const;
/** skipType 1 opens the app's launcher page, 4 a page given by skipContent (an intent URI). */
export const VIVO_SKIP_TYPE = { home: 1, url: 2, custom: 3, appPage: 4 } as const;
/** classification 1 = system message. IM messages and calls are system messages (doc copy + [impl] note). */
export const VIVO_CLASSIFICATION_SYSTEM = 1;
/**
 * category of system messages: IM, ACCOUNT, TODO, DEVICE_REMINDER, ORDER, SUBSCRIPTION
 * ([impl] MZ ViVoConstants). vivo has no category for calls; a call ring is a person's
 * real-time message to another person, so calls go as IM too.
 * unverified: vivo's own "消息分类" page might name a better category for calls.
 */
export const VIVO_CATEGORY_IM = 'IM';
export const VIVO_SYSTEM_CATEGORIES = ['IM', 'ACCOUNT', 'TODO', 'DEVICE_REMINDER', 'ORDER', 'SUBSCRIPTION'] as const;
export const VIVO_OPERATION_CATEGORIES = ['NEWS', 'CONTENT', 'MARKETING', 'SOCIAL'] as const;
export const VIVO_PUSH_MODE = { production: 0, test: 1 } as const;
export const VIVO_NETWORK_ANY = -1;

export const VIVO_LIMITS = {
  // Doc copy: title ≤ 20 Chinese characters, "一个汉字等于两个英文字符", i.e. 40 units where ASCII counts 1
  // and anything else 2 (an emoji is said to count 1; counting it 2 is on the safe side).
  titleUnits: 40,
  // Doc copy: content ≤ 50 Chinese characters = 100 units.
  contentUnits: 100,
  // Doc copy: timeToLive in seconds, at least 60, at most 7 days (default 1 day when absent).
  ttlMinSec: 60,
  ttlMaxSec: 7 * 86400,
  // Doc copy: ≤ 10 pairs, keys and values together ≤ 1024 characters.
  // unverified: whether vivo counts the JSON text or the sum of key and value lengths; we count the JSON text.
  customMapPairs: 10,
  customMapChars: 1024,
  // Doc copy: requestId ≤ 64 characters, unique per push (vivo's dedupe key).
  requestIdChars: 64,
  // Doc copy: skipContent ≤ 1024 characters for skipType 3/4.
  skipContentChars: 1024,
} as const;

/** `result` codes of vivo's JSON answers. */
export const VIVO_CODES = {
  SUCCESS: 0,
  // [impl] julive push service (VivoPushHelper.php): 10000 "无权限请求" answered for an
  // invalid or expired authToken; it renews the token and retries. unverified by vivo's own page.
  AUTH_TOKEN_INVALID: 10000,
  // v2.9.2 doc copy: "10070: 发送总量超出限制" — the day's send quota; do not call /message/send again today.
  TOTAL_QUOTA_EXCEEDED: 10070,
  // [impl] julive: 10072 "超频" (sending too fast).
  TOO_FREQUENT: 10072,
  // v2.9.2 doc copy: the appId in the body differs from the token's app.
  APP_ID_MISMATCH: 10094,
  // Auth errors, [impl] MZ ViVoResultCodeMap: 10200 a field null or appId unknown (the qro.cn copy
  // splits it into 10200–10205 per field), 10206 sign wrong, 10207 timestamp illegal, 10250 auth call limit.
  AUTH_FIELD_INVALID: 10200,
  AUTH_SIGN_WRONG: 10206,
  AUTH_TIMESTAMP_ILLEGAL: 10207,
  AUTH_CALL_LIMIT: 10250,
  // [impl] MZ ViVoConstants.INVALID_REGISTRATION_ID: "regId 不合法" — prune.
  INVALID_REG_ID: 10302,
  // unverified: vivo's code for a malformed send field is not in our sources; the fake answers
  // 10055 for any field it refuses, and our outcome table treats unknown codes as retries.
  FAKE_PARAM_ERROR: 10055,
} as const;

/** What each code means for us (vivo-outcome.ts reads these sets; nothing else lists codes). */
export const VIVO_CODE_CLASS = {
  reauth: new Set<number>([VIVO_CODES.AUTH_TOKEN_INVALID]),
  config: new Set<number>([10200, 10201, 10202, 10203, 10204, 10205, VIVO_CODES.AUTH_SIGN_WRONG, VIVO_CODES.AUTH_TIMESTAMP_ILLEGAL, VIVO_CODES.APP_ID_MISMATCH]),
  /** Daily limits (sends, auth calls): retry much later, never prune. */
  quota: new Set<number>([VIVO_CODES.TOTAL_QUOTA_EXCEEDED, VIVO_CODES.AUTH_CALL_LIMIT]),
  transient: new Set<number>([VIVO_CODES.TOO_FREQUENT]),
  dead: new Set<number>([VIVO_CODES.INVALID_REG_ID]),
} as const;

/**
 * `invalidUser.status` in an answer with result 0 ([impl] MZ ViVoInvalidUser): 1 the regId's
 * user does not exist, 2 app uninstalled or notifications switched off, 3 not online for 90
 * days, 4 not a test device (pushMode 1). 1 and 3 are dead registrations; 2 may come back
 * (notifications switched on again), so the push counts as accepted; 4 is a configuration error.
 */
export const VIVO_INVALID_USER = { notFound: 1, notificationsOff: 2, offline90Days: 3, notTestDevice: 4 } as const;

/**
 * How long to wait after a daily limit (10070, 10250). vivo asks senders not to call the API
 * again that day; the reset time is not given (unverified: probably 00:00 Beijing time). We
 * wait until the next full hour, at least five minutes (the reasoning is at untilNextFullHourMs).
 */
export const vivoQuotaRetryAfterMs: (now: number) => number = untilNextFullHourMs;
