/**
 * Every wire fact about Web Push (RFC 8030 delivery, RFC 8291 encryption over RFC 8188,
 * RFC 8292 VAPID) in one place, with its source: shared/spec/vendor-push-apis.md §1.7 (the
 * RFCs, Mozilla autopush's error page, web-push-libs/web-push). The fake
 * (tools/fakes/webpush-server.ts) imports the same facts, so both sides move together.
 */

/** Push services must accept bodies of at least 4096 bytes (RFC 8030 §7.2). */
export const WEBPUSH_MAX_BODY_BYTES = 4096;
/** aes128gcm header: salt 16 + record size 4 + key id length 1 + sender public key 65 (RFC 8291 §4). */
export const WEBPUSH_HEADER_BYTES = 16 + 4 + 1 + 65;
/** AES-GCM tag of the one record, and the padding delimiter of the last record (RFC 8188 §2). */
export const WEBPUSH_TAG_BYTES = 16;
export const WEBPUSH_PADDING_DELIMITER_BYTES = 1;
/** The largest plaintext that still fits one 4096-byte body: 3993 bytes. */
export const WEBPUSH_MAX_PLAINTEXT_BYTES = WEBPUSH_MAX_BODY_BYTES - WEBPUSH_HEADER_BYTES - WEBPUSH_TAG_BYTES - WEBPUSH_PADDING_DELIMITER_BYTES;

export const WEBPUSH_CONTENT_ENCODING = 'aes128gcm';
/** The info strings of RFC 8291 §3.4 and RFC 8188 §2.2/§2.3. */
export const WEBPUSH_IKM_INFO = 'WebPush: info\0';
export const WEBPUSH_CEK_INFO = 'Content-Encoding: aes128gcm\0';
export const WEBPUSH_NONCE_INFO = 'Content-Encoding: nonce\0';

/** TTL (seconds) when the push gives no expiry; web-push's own default is four weeks. */
export const WEBPUSH_DEFAULT_TTL_SEC = 86400;
// unverified per service: FCM caps Web Push TTL at four weeks; we never ask for more.
export const WEBPUSH_MAX_TTL_SEC = 2_419_200;
/** Topic: at most 32 characters of the URL-safe base64 alphabet (RFC 8030 §5.4). */
export const WEBPUSH_TOPIC_CHARS = 32;
export const WEBPUSH_TOPIC_RE = /^[A-Za-z0-9_-]{1,32}$/;
export const WEBPUSH_URGENCIES = ['very-low', 'low', 'normal', 'high'] as const;
export type WebPushUrgency = (typeof WEBPUSH_URGENCIES)[number];

/** VAPID JWT (RFC 8292 §2): `exp` at most 24 h ahead; web-push signs 12 h by default. */
export const VAPID_MAX_EXPIRY_SEC = 24 * 3600;
/** The VAPID key: an uncompressed P-256 point (65 bytes, 0x04 first) and a 32-byte private scalar. */
export const VAPID_PUBLIC_KEY_BYTES = 65;
export const VAPID_PRIVATE_KEY_BYTES = 32;
/** A subscription's keys: p256dh the same kind of point; auth at least 16 bytes (RFC 8291 §3.2). */
export const SUBSCRIPTION_AUTH_MIN_BYTES = 16;

/**
 * What a push service's HTTP status means (autopush errors page, pushpad's table, RFC 8030).
 * 404 and 410 both mean the subscription is gone: delete it (the 404-vs-410 debate in
 * webpush-wg PRs #92/#103/#108 ended with services using either).
 */
export const WEBPUSH_STATUS_CLASS = {
  dead: new Set([404, 410]),
  /** Bad VAPID claims (400), a JWT the service cannot verify (401), a key that differs from the subscription's (403). */
  config: new Set([400, 401, 403]),
  tooLarge: new Set([413]),
  rateLimited: new Set([429]),
} as const;

/** The registration kind (`provider` in push_register) of a browser PushSubscription. */
export const WEBPUSH_REGISTRATION = 'webpush';
