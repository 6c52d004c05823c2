/**
 * Huawei Push Kit (HMS Core, Android; server API v1) as a tidings push vendor.
 *
 * ```ts
 * // config: push.credentials.hms = { type: 'huawei', appId: '101234567', appSecret: '…', channelId: 'messages' }
 * huaweiVendor.checkCredential?.('hms', credential);
 * const provider = huaweiVendor.create('hms', credential, deps);
 * await provider.send({ registration: 'huawei', token, credential: 'hms', options: {} }, message);
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
import { checkHuaweiCredential, HuaweiCredentialSchema, type HuaweiCredential } from './huawei-credential.ts';
import { buildHuaweiRequest } from './huawei-payload.ts';
import { HUAWEI_REGISTRATION, HuaweiProvider } from './huawei-provider.ts';

export type { HuaweiCredential } from './huawei-credential.ts';

/** HMS push tokens are long printable strings; accept any printable ASCII, bounded. */
export const HuaweiTokenSchema = Type.String({ minLength: 8, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' });

const REDACTED = '<redacted>';

const registration: RegistrationKind = {
  name: HUAWEI_REGISTRATION,
  tokenSchema: HuaweiTokenSchema,
  storedToken(token: unknown): string {
    if (typeof token !== 'string') throw new RegistrationError('a huawei token is a string');
    return token;
  },
  // OEM channels beat FCM (10) on the phones that have them.
  priority: 50,
  carries: () => true,
  options(fields) {
    if (fields.environment !== undefined || fields.topic !== undefined) {
      throw new RegistrationError('huawei registrations take no environment or topic (those are APNs fields)');
    }
    return {};
  },
};

/** Preview has no credential argument; what create() saw under a name is used, else placeholders. */
const PLACEHOLDER: HuaweiCredential = { type: 'huawei', appId: '{appId}', appSecret: REDACTED };

export function createHuaweiVendor(): PushVendor<HuaweiCredential> {
  const configured = new Map<string, HuaweiCredential>();
  return {
    type: 'huawei',
    credentialSchema: HuaweiCredentialSchema,
    checkCredential: checkHuaweiCredential,
    registrations: [registration],
    create(name: string, credential: HuaweiCredential, deps: VendorDeps) {
      configured.set(name, credential);
      return new HuaweiProvider(name, credential, deps, () => {
        if (configured.get(name) === credential) configured.delete(name);
      });
    },
    preview(target: PushTarget, message: PushMessage, now: number): PreviewResult {
      const credential = configured.get(target.credential) ?? PLACEHOLDER;
      const built = buildHuaweiRequest(credential, target, message, now);
      if (!built.ok) return { ok: false, reason: 'payload_too_large' };
      const body = structuredClone(built.request.body) as { message: { token?: unknown } };
      body.message.token = [REDACTED];
      return {
        ok: true,
        request: {
          method: built.request.method,
          url: built.request.url,
          headers: { ...built.request.headers, authorization: `Bearer ${REDACTED}` },
          body,
        },
        truncated: built.truncated,
      };
    },
  };
}

export const huaweiVendor: PushVendor<HuaweiCredential> = createHuaweiVendor();
