// One Xiaomi MiPush credential (`push.credentials.<name>` with `type: "xiaomi"`): the AppSecret
// (sent as `Authorization: key=…` on every call), the package name the pushes are restricted to,
// and the region whose API host to use. Error messages name the setting, never its value.

import { Type, type Static } from '@sinclair/typebox';
import { CredentialConfigError } from '../contract.ts';
import { checkEndpoints, checkSchema } from '../credential-check.ts';
import { XIAOMI_REGIONS } from './xiaomi-facts.ts';

const Endpoints = Type.Object({
  pushUrl: Type.Optional(Type.String({ description: 'API base URL (overrides the region); `/v3/message/regid` is appended.' })),
  ca: Type.Optional(Type.String({ description: 'PEM of an extra CA to trust (a local fake vendor).' })),
}, { additionalProperties: false });

const ClickAction = Type.Union([
  Type.Object({ type: Type.Literal('app') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('intent'), intent: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('url'), url: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false }),
]);

const PACKAGE = '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+$';

export const XiaomiCredentialSchema = Type.Object({
  type: Type.Literal('xiaomi'),
  appSecret: Type.String({ minLength: 1, maxLength: 512, description: 'MiPush AppSecret of the app.' }),
  packageName: Type.String({ pattern: PACKAGE, description: 'Android package name (restricted_package_name).' }),
  region: Type.Optional(Type.Union(XIAOMI_REGIONS.map((r) => Type.Literal(r)), { description: 'API region: cn (default), global, ru, in, eu, sg.' })),
  endpoints: Type.Optional(Endpoints),
  channelId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'extra.channel_id for message pushes (required for "private" messages).' })),
  callChannelId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Channel for call rings; defaults to channelId.' })),
  notifyType: Type.Optional(Type.Integer({ minimum: -1, maximum: 7, description: 'notify_type: -1 all (default), or 1 sound | 2 vibrate | 4 lights.' })),
  notifyForeground: Type.Optional(Type.Boolean({ description: 'extra.notify_foreground: show while the app is in the foreground (default true).' })),
  clickAction: Type.Optional(ClickAction),
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000, description: 'Per-request timeout.' })),
}, { additionalProperties: false });

export type XiaomiCredential = Static<typeof XiaomiCredentialSchema>;

export function checkXiaomiCredential(name: string, credential: XiaomiCredential): void {
  checkSchema(XiaomiCredentialSchema, name, credential);
  // The secret goes into a header as-is: whitespace or a comma would be a broken header, not a secret.
  if (/[\s,]/.test(credential.appSecret)) {
    throw new CredentialConfigError(`push.credentials.${name}.appSecret contains whitespace or a comma (copy-paste error?)`);
  }
  checkEndpoints(`push.credentials.${name}`, credential.endpoints);
  if (credential.clickAction?.type === 'url' && !/^https?:\/\//.test(credential.clickAction.url)) {
    throw new CredentialConfigError(`push.credentials.${name}.clickAction.url must be an http(s) URL`);
  }
}
