import { Type } from '@sinclair/typebox';
import { lazyProvider, type PushVendor } from '../contract.ts';
import { checkFcmCredential, FcmCredentialSchema, type FcmCredential } from './fcm-credential.ts';
import { buildFcmMessage } from './fcm-payload.ts';

export const fcmVendor: PushVendor<FcmCredential> = {
  type: 'fcm',
  credentialSchema: FcmCredentialSchema,
  checkCredential: checkFcmCredential,
  registrations: [{
    name: 'fcm',
    tokenSchema: Type.String({ pattern: '^[A-Za-z0-9_:.\\-]+$' }),
    storedToken: (t) => t as string,
    // The fallback carrier: an OEM channel the device also registered is preferred (docs/PUSH.md).
    priority: 10,
    carries: () => true,
    // APNs fields sent along with an FCM token were always ignored; they still are.
    options: () => ({}),
  }],
  create: (name, credential, deps) => lazyProvider(name, async () => new (await import('./fcm-provider.ts')).FcmProvider(name, credential, { log: deps.log })),
  preview(target, message, now) {
    const built = buildFcmMessage(target, message, now);
    if (!built.ok) return { ok: false, reason: 'payload_too_large' };
    return { ok: true, request: { message: built.message }, truncated: built.truncated };
  },
};
