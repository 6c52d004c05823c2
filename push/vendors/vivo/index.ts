/**
 * vivo Push as a PushVendor: credential type `vivo`, registration kind `vivo` (a regId string),
 * ranked above FCM on the devices that have both.
 */
import { Type } from '@sinclair/typebox';
import { RegistrationError, type PushVendor, type RegistrationKind } from '../contract.ts';
import { checkVivoCredential, VivoCredentialSchema, type VivoCredential } from './vivo-credential.ts';
import { VIVO_AUTH_HEADER, VIVO_CONTENT_TYPE, VIVO_PUSH_MODE } from './vivo-facts.ts';
import { buildVivoSend } from './vivo-payload.ts';
import { VIVO_REGISTRATION, VivoProvider } from './vivo-provider.ts';

export type { VivoCredential } from './vivo-credential.ts';

/** A regId: printable ASCII without spaces (e.g. `v2-CQanxnrM…` or a long number), bounded. */
const VivoTokenSchema = Type.String({ minLength: 8, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' });

const vivoRegistration: RegistrationKind = {
  name: VIVO_REGISTRATION,
  tokenSchema: VivoTokenSchema,
  storedToken(token: unknown): string {
    if (typeof token !== 'string') throw new RegistrationError('a vivo regId is a string');
    return token;
  },
  priority: 50,
  carries: () => true,
  options(fields) {
    if (fields.environment !== undefined) throw new RegistrationError('environment is an APNs field; vivo registrations take none');
    if (fields.topic !== undefined) throw new RegistrationError('topic is an APNs field; vivo registrations take none');
    return {};
  },
};

export const vivoVendor: PushVendor<VivoCredential> = {
  type: 'vivo',
  credentialSchema: VivoCredentialSchema,
  checkCredential: checkVivoCredential,
  registrations: [vivoRegistration],
  create: (name, credential, deps) => new VivoProvider(name, credential, deps),
  preview(target, message, now) {
    // preview() has no credential: its fields show as placeholders naming the setting
    // (pushMode as production, skipContent as unset).
    const credential = `push.credentials.${target.credential}`;
    const built = buildVivoSend(target, message, { appId: `<${credential}.appId>`, pushMode: VIVO_PUSH_MODE.production }, now);
    if (!built.ok) {
      if (built.reason === 'payload_too_large') return { ok: false, reason: 'payload_too_large' };
      return { ok: true, request: { sent: false, reason: 'vivo has no silent push for a background push' }, truncated: false };
    }
    return {
      ok: true,
      truncated: built.truncated,
      request: {
        method: 'POST',
        url: `<${credential} push URL>`,
        headers: { 'content-type': VIVO_CONTENT_TYPE, [VIVO_AUTH_HEADER]: '[redacted]' },
        body: built.body,
      },
    };
  },
};
