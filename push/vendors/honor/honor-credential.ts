// One Honor Push credential (`push.credentials.<name>` with `type: "honor"`). Honor issues an App ID
// (in the send path) and a separate OAuth client id/secret pair. Error messages name the setting,
// never its value.

import { Type, type Static } from '@sinclair/typebox';
import { CredentialConfigError } from '../contract.ts';
import { checkEndpoints, checkNoWhitespace, checkSchema } from '../credential-check.ts';
import { HONOR_IMPORTANCE } from './honor-facts.ts';

const Endpoints = Type.Object({
  authUrl: Type.Optional(Type.String({ description: 'Token URL (full URL); default iam.developer.honor.com/auth/realms/developer/protocol/openid-connect/token.' })),
  pushUrl: Type.Optional(Type.String({ description: 'Push API base URL; `/api/v1/<appId>/sendMessage` is appended.' })),
  ca: Type.Optional(Type.String({ description: 'PEM of an extra CA to trust (a local fake vendor).' })),
}, { additionalProperties: false });

const ClickAction = Type.Union([
  Type.Object({ type: Type.Literal('app') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('intent'), intent: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('action'), action: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('url'), url: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false }),
]);

const ID = '^[A-Za-z0-9_.-]{1,128}$';

export const HonorCredentialSchema = Type.Object({
  type: Type.Literal('honor'),
  appId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Honor App ID (the `{appId}` of the send URL).' }),
  clientId: Type.String({ pattern: ID, description: 'OAuth client id of the app.' }),
  clientSecret: Type.String({ minLength: 1, maxLength: 512, description: 'OAuth client secret of the app.' }),
  endpoints: Type.Optional(Endpoints),
  channelId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'android.notification.channelId for message pushes.' })),
  callChannelId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Channel for call rings; defaults to channelId.' })),
  importance: Type.Optional(Type.Union(HONOR_IMPORTANCE.map((i) => Type.Literal(i)), { description: 'android.notification.importance; default NORMAL.' })),
  badgeClass: Type.Optional(Type.String({ pattern: '^[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)+$', description: 'Launcher activity class; badges are set only when given.' })),
  clickAction: Type.Optional(ClickAction),
  foregroundShow: Type.Optional(Type.Boolean({ description: 'android.notification.foregroundShow.' })),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000, description: 'Per-request timeout.' })),
}, { additionalProperties: false });

export type HonorCredential = Static<typeof HonorCredentialSchema>;

export function checkHonorCredential(name: string, credential: HonorCredential): void {
  checkSchema(HonorCredentialSchema, name, credential);
  checkNoWhitespace(`push.credentials.${name}.clientSecret`, credential.clientSecret);
  checkEndpoints(`push.credentials.${name}`, credential.endpoints);
  if (credential.clickAction?.type === 'url' && !/^https:\/\//.test(credential.clickAction.url)) {
    throw new CredentialConfigError(`push.credentials.${name}.clickAction.url must be an https:// URL`);
  }
}
