/**
 * Web Push as a PushVendor: credential type `webpush` (a VAPID key pair), registration kind
 * `webpush` (a browser PushSubscription object): priority 40, above FCM and below the OEM channels
 * (a browser has no other channel, so the order rarely matters). The web-push package is loaded on first use
 * (first send through lazyProvider, first preview through require), never by the registry itself.
 */
import { createRequire } from 'node:module';
import { lazyProvider, RegistrationError, type PushVendor, type RegistrationKind } from '../contract.ts';
import { checkWebPushCredential, WebPushCredentialSchema, type WebPushCredential } from './webpush-credential.ts';
import { WEBPUSH_CONTENT_ENCODING, WEBPUSH_REGISTRATION } from './webpush-facts.ts';
import { buildWebPush } from './webpush-payload.ts';
import { canonicalSubscription, parseStoredSubscription, WebPushSubscriptionSchema } from './webpush-subscription.ts';

export type { WebPushCredential } from './webpush-credential.ts';
export type { WebPushSubscription } from './webpush-subscription.ts';

type WebPushLib = typeof import('web-push');
const require = createRequire(import.meta.url);
let webPushLib: WebPushLib | undefined;
/** preview() is synchronous: the (CommonJS) package is required on its first call. */
const webPush = (): WebPushLib => (webPushLib ??= require('web-push') as WebPushLib);

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
  create: (name, credential, deps) => lazyProvider(name, async () => new (await import('./webpush-provider.ts')).WebPushProvider(name, credential, deps)),
  preview(target, message, now, credential) {
    const parsed = parseStoredSubscription(target.token);
    if (!parsed.ok) return { ok: false, reason: 'not_supported', detail: `unusable subscription: ${parsed.problem}` };
    const built = buildWebPush(message, now);
    if (!built.ok) return { ok: false, reason: 'payload_too_large' };
    // generateRequestDetails() builds the request offline; the body is encrypted with a fresh
    // key and salt every time, so only its length is shown, next to the plaintext it carries.
    const details = webPush().generateRequestDetails(parsed.subscription, built.json, { ...built.options, contentEncoding: WEBPUSH_CONTENT_ENCODING });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(details.headers)) headers[name] = String(value);
    // The signed JWT is redacted; the public key is what the browser subscribed with.
    headers.Authorization = `vapid t=[redacted], k=${credential?.publicKey ?? `<push.credentials.${target.credential}.publicKey>`}`;
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
