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
import type { PreviewResult, PushMessage, PushTarget, PushVendor, VendorDeps } from '../contract.ts';
import { REDACTED, requestPreview } from '../preview.ts';
import { OEM_PRIORITY, stringTokenRegistration } from '../registration.ts';
import { checkHonorCredential, HonorCredentialSchema, type HonorCredential } from './honor-credential.ts';
import { buildHonorRequest } from './honor-payload.ts';
import { HONOR_REGISTRATION, HonorProvider } from './honor-provider.ts';

export type { HonorCredential } from './honor-credential.ts';

/** Honor push tokens are long printable strings; accept any printable ASCII, bounded. */
export const HonorTokenSchema = Type.String({ minLength: 8, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' });

/** Without a configured credential, its fields show as placeholders. */
const PLACEHOLDER: HonorCredential = { type: 'honor', appId: '{appId}', clientId: '{clientId}', clientSecret: REDACTED };

export const honorVendor: PushVendor<HonorCredential> = {
  type: 'honor',
  credentialSchema: HonorCredentialSchema,
  checkCredential: checkHonorCredential,
  registrations: [stringTokenRegistration({ name: HONOR_REGISTRATION, tokenName: 'an honor token', tokenSchema: HonorTokenSchema, priority: OEM_PRIORITY })],
  create: (name: string, credential: HonorCredential, deps: VendorDeps) => new HonorProvider(name, credential, deps),
  preview(target: PushTarget, message: PushMessage, now: number, credential?: HonorCredential): PreviewResult {
    const built = buildHonorRequest(credential ?? PLACEHOLDER, target, message, now);
    if (!built.ok) return { ok: false, reason: 'payload_too_large' };
    const body = structuredClone(built.request.body) as { token?: unknown };
    body.token = [REDACTED];
    return requestPreview(built, body, `Bearer ${REDACTED}`);
  },
};
