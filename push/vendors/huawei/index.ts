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
import type { PreviewResult, PushMessage, PushTarget, PushVendor, VendorDeps } from '../contract.ts';
import { REDACTED, requestPreview } from '../preview.ts';
import { OEM_PRIORITY, stringTokenRegistration } from '../registration.ts';
import { checkHuaweiCredential, HuaweiCredentialSchema, type HuaweiCredential } from './huawei-credential.ts';
import { buildHuaweiRequest } from './huawei-payload.ts';
import { HUAWEI_REGISTRATION, HuaweiProvider } from './huawei-provider.ts';

export type { HuaweiCredential } from './huawei-credential.ts';

/** HMS push tokens are long printable strings; accept any printable ASCII, bounded. */
export const HuaweiTokenSchema = Type.String({ minLength: 8, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' });

/** Without a configured credential, its fields show as placeholders. */
const PLACEHOLDER: HuaweiCredential = { type: 'huawei', appId: '{appId}', appSecret: REDACTED };

export const huaweiVendor: PushVendor<HuaweiCredential> = {
  type: 'huawei',
  credentialSchema: HuaweiCredentialSchema,
  checkCredential: checkHuaweiCredential,
  registrations: [stringTokenRegistration({ name: HUAWEI_REGISTRATION, tokenName: 'a huawei token', tokenSchema: HuaweiTokenSchema, priority: OEM_PRIORITY })],
  create: (name: string, credential: HuaweiCredential, deps: VendorDeps) => new HuaweiProvider(name, credential, deps),
  preview(target: PushTarget, message: PushMessage, now: number, credential?: HuaweiCredential): PreviewResult {
    const built = buildHuaweiRequest(credential ?? PLACEHOLDER, target, message, now);
    if (!built.ok) return { ok: false, reason: 'payload_too_large' };
    const body = structuredClone(built.request.body) as { message: { token?: unknown } };
    body.message.token = [REDACTED];
    return requestPreview(built, body, `Bearer ${REDACTED}`);
  },
};
