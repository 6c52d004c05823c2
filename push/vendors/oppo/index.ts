/**
 * OPPO (HeyTap) Push as a PushVendor: credential type `oppo`, registration kind `oppo`
 * (a registration id string), ranked above FCM on the devices that have both.
 */
import { Type } from '@sinclair/typebox';
import { RegistrationError, type PushVendor, type RegistrationKind } from '../contract.ts';
import { checkOppoCredential, OppoCredentialSchema, type OppoCredential } from './oppo-credential.ts';
import { OPPO_FORM_CONTENT_TYPE } from './oppo-facts.ts';
import { buildOppoMessage } from './oppo-payload.ts';
import { OPPO_REGISTRATION, OppoProvider } from './oppo-provider.ts';

export type { OppoCredential } from './oppo-credential.ts';

/** A registration id: printable ASCII without spaces (e.g. `CN_b6bbd94b…`), bounded. */
const OppoTokenSchema = Type.String({ minLength: 8, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' });

const oppoRegistration: RegistrationKind = {
  name: OPPO_REGISTRATION,
  tokenSchema: OppoTokenSchema,
  storedToken(token: unknown): string {
    if (typeof token !== 'string') throw new RegistrationError('an OPPO registration id is a string');
    return token;
  },
  priority: 50,
  carries: () => true,
  options(fields) {
    if (fields.environment !== undefined) throw new RegistrationError('environment is an APNs field; OPPO registrations take none');
    if (fields.topic !== undefined) throw new RegistrationError('topic is an APNs field; OPPO registrations take none');
    return {};
  },
};

export const oppoVendor: PushVendor<OppoCredential> = {
  type: 'oppo',
  credentialSchema: OppoCredentialSchema,
  checkCredential: checkOppoCredential,
  registrations: [oppoRegistration],
  create: (name, credential, deps) => new OppoProvider(name, credential, deps),
  preview(target, message, now) {
    // preview() has no credential: its fields show as placeholders naming the setting.
    const credential = `push.credentials.${target.credential}`;
    const built = buildOppoMessage(target, message, { channelId: `<${credential}.channelId>` }, now);
    if (!built.ok) {
      if (built.reason === 'payload_too_large') return { ok: false, reason: 'payload_too_large' };
      return { ok: true, request: { sent: false, reason: 'oppo has no silent push for a background push' }, truncated: false };
    }
    return {
      ok: true,
      truncated: built.truncated,
      request: {
        method: 'POST',
        url: `<${credential} push URL>`,
        headers: { 'content-type': OPPO_FORM_CONTENT_TYPE },
        form: { auth_token: '[redacted]', message: built.message },
      },
    };
  },
};
