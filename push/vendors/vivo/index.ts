/**
 * vivo Push as a PushVendor: credential type `vivo`, registration kind `vivo` (a regId string),
 * ranked above FCM on the devices that have both. vivo has no silent push, so the purposes sent
 * as background pushes elsewhere are left to the device's FCM token.
 */
import { Type } from '@sinclair/typebox';
import type { PushVendor } from '../contract.ts';
import { refusalPreview } from '../preview.ts';
import { carriesVisibleOnly, OEM_PRIORITY, stringTokenRegistration } from '../registration.ts';
import { checkVivoCredential, VivoCredentialSchema, vivoUrls, type VivoCredential } from './vivo-credential.ts';
import { VIVO_AUTH_HEADER, VIVO_CONTENT_TYPE, VIVO_PUSH_MODE } from './vivo-facts.ts';
import { buildVivoSend } from './vivo-payload.ts';
import { VIVO_REGISTRATION, VivoProvider } from './vivo-provider.ts';

export type { VivoCredential } from './vivo-credential.ts';

/** A regId: printable ASCII without spaces (e.g. `v2-CQanxnrM…` or a long number), bounded. */
const VivoTokenSchema = Type.String({ minLength: 8, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' });

export const vivoVendor: PushVendor<VivoCredential> = {
  type: 'vivo',
  credentialSchema: VivoCredentialSchema,
  checkCredential: checkVivoCredential,
  registrations: [stringTokenRegistration({
    name: VIVO_REGISTRATION, tokenName: 'a vivo regId', tokenSchema: VivoTokenSchema, priority: OEM_PRIORITY, carries: carriesVisibleOnly,
  })],
  create: (name, credential, deps) => new VivoProvider(name, credential, deps),
  preview(target, message, now, credential) {
    // Without a configured credential its fields show as placeholders naming the setting
    // (pushMode as production, skipContent as unset).
    const setting = `push.credentials.${target.credential}`;
    const built = buildVivoSend(target, message, {
      appId: credential?.appId ?? `<${setting}.appId>`,
      pushMode: VIVO_PUSH_MODE[credential?.pushMode ?? 'production'],
      skipContent: credential?.skipContent,
    }, now);
    if (!built.ok) return refusalPreview(built);
    return {
      ok: true,
      truncated: built.truncated,
      request: {
        method: 'POST',
        url: credential ? vivoUrls(credential).pushUrl : `<${setting} push URL>`,
        headers: { 'content-type': VIVO_CONTENT_TYPE, [VIVO_AUTH_HEADER]: '[redacted]' },
        body: built.body,
      },
    };
  },
};
