/**
 * OPPO (HeyTap) Push as a PushVendor: credential type `oppo`, registration kind `oppo`
 * (a registration id string), ranked above FCM on the devices that have both. OPPO has no silent
 * push, so the purposes sent as background pushes elsewhere are left to the device's FCM token.
 */
import { Type } from '@sinclair/typebox';
import type { PushVendor } from '../contract.ts';
import { refusalPreview } from '../preview.ts';
import { carriesVisibleOnly, OEM_PRIORITY, stringTokenRegistration } from '../registration.ts';
import { checkOppoCredential, OppoCredentialSchema, oppoUrls, type OppoCredential } from './oppo-credential.ts';
import { OPPO_FORM_CONTENT_TYPE } from './oppo-facts.ts';
import { buildOppoMessage } from './oppo-payload.ts';
import { OPPO_REGISTRATION, OppoProvider } from './oppo-provider.ts';

export type { OppoCredential } from './oppo-credential.ts';

/** A registration id: printable ASCII without spaces (e.g. `CN_b6bbd94b…`), bounded. */
const OppoTokenSchema = Type.String({ minLength: 8, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' });

export const oppoVendor: PushVendor<OppoCredential> = {
  type: 'oppo',
  credentialSchema: OppoCredentialSchema,
  checkCredential: checkOppoCredential,
  registrations: [stringTokenRegistration({
    name: OPPO_REGISTRATION, tokenName: 'an OPPO registration id', tokenSchema: OppoTokenSchema, priority: OEM_PRIORITY, carries: carriesVisibleOnly,
  })],
  create: (name, credential, deps) => new OppoProvider(name, credential, deps),
  preview(target, message, now, credential) {
    // Without a configured credential its fields show as placeholders naming the setting.
    const setting = `push.credentials.${target.credential}`;
    const built = buildOppoMessage(target, message, {
      channelId: credential?.channelId ?? `<${setting}.channelId>`,
      clickActivity: credential?.clickActivity,
    }, now);
    if (!built.ok) return refusalPreview(built);
    return {
      ok: true,
      truncated: built.truncated,
      request: {
        method: 'POST',
        url: credential ? oppoUrls(credential).pushUrl : `<${setting} push URL>`,
        headers: { 'content-type': OPPO_FORM_CONTENT_TYPE },
        form: { auth_token: '[redacted]', message: built.message },
      },
    };
  },
};
