/**
 * Honor Push (Android phones by Honor) as a tidings push vendor.
 *
 * ```ts
 * // config: push.credentials.honor = { type: 'honor', appId: '104412345', clientId: '…', clientSecret: '…' }
 * honorVendor.checkCredential?.('honor', credential);
 * const provider = honorVendor.create('honor', credential, deps);
 * await provider.send({ registration: 'honor', token, credential: 'honor', options: {} }, message);
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
import { checkHonorCredential, HonorCredentialSchema, type HonorCredential } from './honor-credential.ts';
import { buildHonorRequest } from './honor-payload.ts';
import { HONOR_REGISTRATION, HonorProvider } from './honor-provider.ts';

export type { HonorCredential } from './honor-credential.ts';

/** Honor push tokens are long printable strings; accept any printable ASCII, bounded. */
export const HonorTokenSchema = Type.String({ minLength: 8, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' });

const REDACTED = '<redacted>';

const registration: RegistrationKind = {
  name: HONOR_REGISTRATION,
  tokenSchema: HonorTokenSchema,
  storedToken(token: unknown): string {
    if (typeof token !== 'string') throw new RegistrationError('an honor token is a string');
    return token;
  },
  // OEM channels beat FCM (10) on the phones that have them.
  priority: 50,
  carries: () => true,
  options(fields) {
    if (fields.environment !== undefined || fields.topic !== undefined) {
      throw new RegistrationError('honor registrations take no environment or topic (those are APNs fields)');
    }
    return {};
  },
};

/** Preview has no credential argument; what create() saw under a name is used, else placeholders. */
const PLACEHOLDER: HonorCredential = { type: 'honor', appId: '{appId}', clientId: '{clientId}', clientSecret: REDACTED };

export function createHonorVendor(): PushVendor<HonorCredential> {
  const configured = new Map<string, HonorCredential>();
  return {
    type: 'honor',
    credentialSchema: HonorCredentialSchema,
    checkCredential: checkHonorCredential,
    registrations: [registration],
    create(name: string, credential: HonorCredential, deps: VendorDeps) {
      configured.set(name, credential);
      return new HonorProvider(name, credential, deps, () => {
        if (configured.get(name) === credential) configured.delete(name);
      });
    },
    preview(target: PushTarget, message: PushMessage, now: number): PreviewResult {
      const credential = configured.get(target.credential) ?? PLACEHOLDER;
      const built = buildHonorRequest(credential, target, message, now);
      if (!built.ok) return { ok: false, reason: 'payload_too_large' };
      const body = structuredClone(built.request.body) as { token?: unknown };
      body.token = [REDACTED];
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

export const honorVendor: PushVendor<HonorCredential> = createHonorVendor();
