/**
 * The Web Push registration token: the browser's PushSubscription as `toJSON()` gives it,
 * `{ endpoint, expirationTime?, keys: { p256dh, auth } }`. Stored as canonical JSON (fixed key
 * order, expirationTime left out) so one subscription always stores one string.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { RegistrationError } from '../contract.ts';
import { SUBSCRIPTION_AUTH_MIN_BYTES, VAPID_PUBLIC_KEY_BYTES } from './webpush-facts.ts';

const base64url = (minLength: number, maxLength: number) => Type.String({ minLength, maxLength, pattern: '^[A-Za-z0-9_-]+={0,2}$' });

export const WebPushSubscriptionSchema = Type.Object({
  // An https URL of the browser's push service (or of a local fake in tests).
  endpoint: Type.String({ minLength: 12, maxLength: 2048, pattern: '^https://[^\\s]+$' }),
  expirationTime: Type.Optional(Type.Union([Type.Null(), Type.Number()])),
  keys: Type.Object({
    p256dh: base64url(80, 100), // 65 bytes: 87 characters
    auth: base64url(16, 64), // 16 bytes: 22 characters
  }, { additionalProperties: false }),
}, { additionalProperties: false });

export type WebPushSubscription = Static<typeof WebPushSubscriptionSchema>;
export interface StoredSubscription {
  endpoint: string;
  keys: { auth: string; p256dh: string };
}

const check = TypeCompiler.Compile(WebPushSubscriptionSchema);

/** Why this subscription can never be sent to, or undefined when it can. */
export function subscriptionProblem(value: unknown): string | undefined {
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    return first ? `${first.path || '/'} ${first.message}` : 'not a push subscription';
  }
  let url: URL;
  try {
    url = new URL(value.endpoint);
  } catch {
    return 'endpoint is not a URL';
  }
  if (url.protocol !== 'https:') return 'endpoint must be https';
  const p256dh = Buffer.from(value.keys.p256dh, 'base64url');
  if (p256dh.length !== VAPID_PUBLIC_KEY_BYTES || p256dh[0] !== 0x04) return 'keys.p256dh is not an uncompressed P-256 public key';
  if (Buffer.from(value.keys.auth, 'base64url').length < SUBSCRIPTION_AUTH_MIN_BYTES) return `keys.auth is shorter than ${SUBSCRIPTION_AUTH_MIN_BYTES} bytes`;
  return undefined;
}

/** The stored form: canonical JSON with sorted keys and without padding, so equal subscriptions store equal strings. */
export function canonicalSubscription(value: unknown): string {
  const problem = subscriptionProblem(value);
  if (problem !== undefined) throw new RegistrationError(`invalid Web Push subscription: ${problem}`);
  const subscription = value as WebPushSubscription;
  const unpad = (s: string) => s.replace(/=+$/, '');
  const stored: StoredSubscription = {
    endpoint: subscription.endpoint,
    keys: { auth: unpad(subscription.keys.auth), p256dh: unpad(subscription.keys.p256dh) },
  };
  return JSON.stringify(stored);
}

/** The subscription back from its stored form, or why it is unusable. */
export function parseStoredSubscription(token: string): { ok: true; subscription: StoredSubscription } | { ok: false; problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(token);
  } catch {
    return { ok: false, problem: 'stored token is not JSON' };
  }
  const problem = subscriptionProblem(value);
  if (problem !== undefined) return { ok: false, problem };
  const { endpoint, keys } = value as WebPushSubscription;
  return { ok: true, subscription: { endpoint, keys: { auth: keys.auth, p256dh: keys.p256dh } } };
}
