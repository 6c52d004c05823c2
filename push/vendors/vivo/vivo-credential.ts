/**
 * One vivo credential in the config (`push.credentials.<name>`): AppID, AppKey and AppSecret
 * from the vivo developer console, and optional endpoint overrides (local fakes, a proxy).
 * The production host is only a default.
 */
import { Type, type Static } from '@sinclair/typebox';
import { checkEndpoints, checkTrimmed } from '../credential-check.ts';
import { VIVO_AUTH_PATH, VIVO_HOST, VIVO_LIMITS, VIVO_SEND_PATH } from './vivo-facts.ts';

export const VivoCredentialSchema = Type.Object({
  type: Type.Literal('vivo'),
  appId: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: 'AppID from the vivo console (a number).' }),
  appKey: Type.String({ minLength: 1, maxLength: 128, description: 'AppKey from the vivo console.' }),
  appSecret: Type.String({ minLength: 1, maxLength: 256, description: 'AppSecret from the vivo console (signs the auth request; never sent).' }),
  pushMode: Type.Optional(Type.Union([Type.Literal('production'), Type.Literal('test')], { description: '`production` (default) or `test` (only the console\'s test devices receive).' })),
  skipContent: Type.Optional(Type.String({ minLength: 1, maxLength: VIVO_LIMITS.skipContentChars, description: 'Intent URI of the page opened on tap (skipType 4); the app\'s home page when unset.' })),
  requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000, description: 'Timeout of one HTTPS call to vivo.' })),
  endpoints: Type.Optional(Type.Object({
    authUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Full URL of the auth call.' })),
    pushUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Full URL of the send call.' })),
    ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM of an extra CA to trust (a local fake).' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

export type VivoCredential = Static<typeof VivoCredentialSchema>;

export function vivoUrls(credential: VivoCredential): { authUrl: string; pushUrl: string } {
  return {
    authUrl: credential.endpoints?.authUrl ?? VIVO_HOST + VIVO_AUTH_PATH,
    pushUrl: credential.endpoints?.pushUrl ?? VIVO_HOST + VIVO_SEND_PATH,
  };
}

/** What the schema cannot say. Messages name the setting and never carry a value. */
export function checkVivoCredential(name: string, credential: VivoCredential): void {
  const at = `push.credentials.${name}`;
  // vivo signs the trimmed strings ("字符串trim后拼接"): a stray space would only show up as 10206.
  checkTrimmed(`${at}.appKey`, credential.appKey);
  checkTrimmed(`${at}.appSecret`, credential.appSecret);
  checkEndpoints(at, credential.endpoints);
}
