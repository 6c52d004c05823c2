/**
 * Web Push as a PushVendor: credential type `webpush` (a VAPID key pair), registration kind
 * `webpush` (a browser PushSubscription object), below the OEM channels and FCM.
 */
import webpush from 'web-push';
import { type PushVendor, type RegistrationKind, RegistrationError } from '../contract.ts';
import { checkWebPushCredential, WebPushCredentialSchema, type WebPushCredential } from './webpush-credential.ts';
import { WEBPUSH_CONTENT_ENCODING } from './webpush-facts.ts';
import { buildWebPush } from './webpush-payload.ts';
import { WEBPUSH_REGISTRATION, WebPushProvider } from './webpush-provider.ts';
import { canonicalSubscription, parseStoredSubscription, WebPushSubscriptionSchema } from './webpush-subscription.ts';

export type { WebPushCredential } from './webpush-credential.ts';
export type { WebPushSubscription } from './webpush-subscription.ts';

const webPushRegistration: RegistrationKind = {
  name: WEBPUSH_REGISTRATION,
  tokenSchema: WebPushSubscriptionSchema,
  storedToken: canonicalSubscription,
  priority: 40,
  carries: () => true,
  options(fields) {
    if (fields.environment !== undefined) throw new RegistrationError('environment is an APNs field; Web Push subscriptions take none');
    if (fields.topic !== undefined) throw new RegistrationError('topic is an APNs field; Web Push subscriptions take none');
    return {};
  },
};

export const webPushVendor: PushVendor<WebPushCredential> = {
  type: 'webpush',
  credentialSchema: WebPushCredentialSchema,
  checkCredential: checkWebPushCredential,
  registrations: [webPushRegistration],
  create: (name, credential, deps) => new WebPushProvider(name, credential, deps),
  preview(target, message, now) {
    const parsed = parseStoredSubscription(target.token);
    if (!parsed.ok) return { ok: true, request: { sent: false, reason: `unusable subscription: ${parsed.problem}` }, truncated: false };
    const built = buildWebPush(message, now);
    if (!built.ok) return { ok: false, reason: 'payload_too_large' };
    // generateRequestDetails() builds the request offline; the body is encrypted with a fresh
    // key and salt every time, so only its length is shown, next to the plaintext it carries.
    const details = webpush.generateRequestDetails(parsed.subscription, built.json, { ...built.options, contentEncoding: WEBPUSH_CONTENT_ENCODING });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(details.headers)) headers[name] = String(value);
    // preview() has no credential: the VAPID header is shown as what it would be, redacted.
    headers.Authorization = `vapid t=[redacted], k=<push.credentials.${target.credential}.publicKey>`;
    return {
      ok: true,
      truncated: built.truncated,
      request: {
        method: details.method,
        endpoint: details.endpoint,
        headers,
        payload: built.payload,
        encryptedBytes: details.body?.length ?? 0,
      },
    };
  },
};
