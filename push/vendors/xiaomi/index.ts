/**
 * Xiaomi MiPush as a tidings push vendor.
 *
 * ```ts
 * // config: push.credentials.mi = { type: 'xiaomi', appSecret: '…', packageName: 'com.example.chat', region: 'global', channelId: 'messages' }
 * xiaomiVendor.checkCredential?.('mi', credential);
 * const provider = xiaomiVendor.create('mi', credential, deps);
 * await provider.send({ registration: 'xiaomi', token, credential: 'mi', options: {} }, message);
 * ```
 */
import { Type } from '@sinclair/typebox';
import {
  RegistrationError,
  type PreviewResult,
  type PushMessage,
  type PushTarget,
  type PushVendor,
  type RegistrationKind,
  type VendorDeps,
} from '../contract.ts';
import { checkXiaomiCredential, XiaomiCredentialSchema, type XiaomiCredential } from './xiaomi-credential.ts';
import { buildXiaomiRequest } from './xiaomi-payload.ts';
import { XIAOMI_REGISTRATION, XiaomiProvider } from './xiaomi-provider.ts';

export type { XiaomiCredential } from './xiaomi-credential.ts';

/** MiPush registration ids: printable ASCII, bounded, and never a comma (the field is a comma list). */
export const XiaomiTokenSchema = Type.String({ minLength: 8, maxLength: 4096, pattern: '^[\\x21-\\x2b\\x2d-\\x7e]+$' });

const REDACTED = '<redacted>';

const registration: RegistrationKind = {
  name: XIAOMI_REGISTRATION,
  tokenSchema: XiaomiTokenSchema,
  storedToken(token: unknown): string {
    if (typeof token !== 'string') throw new RegistrationError('a xiaomi registration id is a string');
    return token;
  },
  // OEM channels beat FCM (10) on the phones that have them.
  priority: 50,
  carries: () => true,
  options(fields) {
    if (fields.environment !== undefined || fields.topic !== undefined) {
      throw new RegistrationError('xiaomi registrations take no environment or topic (those are APNs fields)');
    }
    return {};
  },
};

/** Preview has no credential argument; what create() saw under a name is used, else placeholders. */
const PLACEHOLDER: XiaomiCredential = { type: 'xiaomi', appSecret: REDACTED, packageName: 'package.name.unknown' };

export function createXiaomiVendor(): PushVendor<XiaomiCredential> {
  const configured = new Map<string, XiaomiCredential>();
  return {
    type: 'xiaomi',
    credentialSchema: XiaomiCredentialSchema,
    checkCredential: checkXiaomiCredential,
    registrations: [registration],
    create(name: string, credential: XiaomiCredential, deps: VendorDeps) {
      configured.set(name, credential);
      return new XiaomiProvider(name, credential, deps, () => {
        if (configured.get(name) === credential) configured.delete(name);
      });
    },
    preview(target: PushTarget, message: PushMessage, now: number): PreviewResult {
      const credential = configured.get(target.credential) ?? PLACEHOLDER;
      const built = buildXiaomiRequest(credential, target, message, now);
      return {
        ok: true,
        request: {
          method: built.request.method,
          url: built.request.url,
          headers: { ...built.request.headers, authorization: `key=${REDACTED}` },
          body: { ...built.request.fields, registration_id: REDACTED },
        },
        truncated: built.truncated,
      };
    },
  };
}

export const xiaomiVendor: PushVendor<XiaomiCredential> = createXiaomiVendor();
