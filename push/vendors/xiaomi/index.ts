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
import type { PreviewResult, PushMessage, PushTarget, PushVendor, VendorDeps } from '../contract.ts';
import { REDACTED, requestPreview } from '../preview.ts';
import { OEM_PRIORITY, stringTokenRegistration } from '../registration.ts';
import { checkXiaomiCredential, XiaomiCredentialSchema, type XiaomiCredential } from './xiaomi-credential.ts';
import { buildXiaomiRequest } from './xiaomi-payload.ts';
import { XIAOMI_REGISTRATION, XiaomiProvider } from './xiaomi-provider.ts';

export type { XiaomiCredential } from './xiaomi-credential.ts';

/** MiPush registration ids: printable ASCII, bounded, and never a comma (the field is a comma list). */
export const XiaomiTokenSchema = Type.String({ minLength: 8, maxLength: 4096, pattern: '^[\\x21-\\x2b\\x2d-\\x7e]+$' });

/** Without a configured credential, its fields show as placeholders. */
const PLACEHOLDER: XiaomiCredential = { type: 'xiaomi', appSecret: REDACTED, packageName: 'package.name.unknown' };

export const xiaomiVendor: PushVendor<XiaomiCredential> = {
  type: 'xiaomi',
  credentialSchema: XiaomiCredentialSchema,
  checkCredential: checkXiaomiCredential,
  registrations: [stringTokenRegistration({ name: XIAOMI_REGISTRATION, tokenName: 'a xiaomi registration id', tokenSchema: XiaomiTokenSchema, priority: OEM_PRIORITY })],
  create: (name: string, credential: XiaomiCredential, deps: VendorDeps) => new XiaomiProvider(name, credential, deps),
  preview(target: PushTarget, message: PushMessage, now: number, credential?: XiaomiCredential): PreviewResult {
    const built = buildXiaomiRequest(credential ?? PLACEHOLDER, target, message, now);
    return requestPreview(built, { ...built.request.fields, registration_id: REDACTED }, `key=${REDACTED}`);
  },
};
