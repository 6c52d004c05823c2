// One Huawei Push Kit credential (`push.credentials.<name>` with `type: "huawei"`): the schema the
// config loader checks, and the checks a schema cannot express. Error messages name the setting,
// never its value (the secret must not reach logs through a config error).

import { Type, type Static } from '@sinclair/typebox';
import { CredentialConfigError } from '../contract.ts';
import { checkEndpoints, checkNoWhitespace, checkSchema } from '../credential-check.ts';
import { HUAWEI_IMPORTANCE } from './huawei-facts.ts';

const Endpoints = Type.Object({
  authUrl: Type.Optional(Type.String({ description: 'OAuth token URL (full URL); default oauth-login.cloud.huawei.com/oauth2/v3/token.' })),
  pushUrl: Type.Optional(Type.String({ description: 'Push API base URL; `/v1/<appId>/messages:send` is appended.' })),
  ca: Type.Optional(Type.String({ description: 'PEM of an extra CA to trust (a local fake vendor).' })),
}, { additionalProperties: false });

const ClickAction = Type.Union([
  Type.Object({ type: Type.Literal('app') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('intent'), intent: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('action'), action: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('url'), url: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false }),
]);

export const HuaweiCredentialSchema = Type.Object({
  type: Type.Literal('huawei'),
  appId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'AppGallery Connect App ID (also the OAuth client_id unless clientId is set).' }),
  appSecret: Type.String({ minLength: 1, maxLength: 512, description: 'OAuth 2.0 client secret of the app.' }),
  clientId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'OAuth client_id when it differs from appId.' })),
  endpoints: Type.Optional(Endpoints),
  channelId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'android.notification.channel_id for message pushes.' })),
  callChannelId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Channel for call rings; defaults to channelId.' })),
  importance: Type.Optional(Type.Union(HUAWEI_IMPORTANCE.map((i) => Type.Literal(i)), { description: 'android.notification.importance; default NORMAL.' })),
  badgeClass: Type.Optional(Type.String({ pattern: '^[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)+$', description: 'Launcher activity class; badges are set only when given.' })),
  clickAction: Type.Optional(ClickAction),
  foregroundShow: Type.Optional(Type.Boolean({ description: 'android.notification.foreground_show.' })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000, description: 'Per-request timeout.' })),
}, { additionalProperties: false });

export type HuaweiCredential = Static<typeof HuaweiCredentialSchema>;

export function checkHuaweiCredential(name: string, credential: HuaweiCredential): void {
  checkSchema(HuaweiCredentialSchema, name, credential);
  checkNoWhitespace(`push.credentials.${name}.appSecret`, credential.appSecret);
  checkEndpoints(`push.credentials.${name}`, credential.endpoints);
  if (credential.clickAction?.type === 'url' && !/^https:\/\//.test(credential.clickAction.url)) {
    throw new CredentialConfigError(`push.credentials.${name}.clickAction.url must be an https:// URL`);
  }
}
