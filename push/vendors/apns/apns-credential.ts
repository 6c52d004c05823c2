import { existsSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { CredentialConfigError } from '../contract.ts';

export type ApnsEnvironment = 'development' | 'production';

const Endpoint = Type.Object({ host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 1, maximum: 65535 }) }, { additionalProperties: false });

export const ApnsCredentialSchema = Type.Object({
  type: Type.Literal('apns'),
  /** The app's bundle id; `apns-voip` pushes go to `<topic>.voip`. */
  topic: Type.String({ minLength: 1 }),
  auth: Type.Union([
    Type.Object({
      kind: Type.Literal('token'), key: Type.Optional(Type.String({ minLength: 1 })), keyFile: Type.Optional(Type.String({ minLength: 1 })),
      keyId: Type.String({ minLength: 1 }), teamId: Type.String({ minLength: 1 }),
    }, { additionalProperties: false }),
    Type.Object({
      kind: Type.Literal('certificate'), pfx: Type.Optional(Type.String({ minLength: 1, description: 'base64' })), pfxFile: Type.Optional(Type.String({ minLength: 1 })),
      passphrase: Type.Optional(Type.String()), cert: Type.Optional(Type.String({ minLength: 1 })), key: Type.Optional(Type.String({ minLength: 1 })),
    }, { additionalProperties: false }),
  ]),
  /** Apple's hosts by default; tests point both at local fakes. */
  endpoints: Type.Optional(Type.Object({ development: Type.Optional(Endpoint), production: Type.Optional(Endpoint) }, { additionalProperties: false })),
  /** PEM of a CA to trust (a local fake). */
  ca: Type.Optional(Type.String({ minLength: 1 })),
  rejectUnauthorized: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

export type ApnsCredential = Static<typeof ApnsCredentialSchema>;
export type ApnsAuth = ApnsCredential['auth'];

/** What the schema cannot say: one source of key material, and files that exist. */
export function checkApnsCredential(name: string, c: ApnsCredential): void {
  const at = `push.credentials.${name}.auth`;
  const auth = c.auth;
  if (auth.kind === 'token') {
    if ((auth.key !== undefined) === (auth.keyFile !== undefined)) throw new CredentialConfigError(`${at}: token auth needs exactly one of key, keyFile`);
    if (auth.keyFile !== undefined && !existsSync(auth.keyFile)) throw new CredentialConfigError(`${at}.keyFile: file not found: ${auth.keyFile}`);
  } else {
    const hasPfx = auth.pfx !== undefined || auth.pfxFile !== undefined;
    const hasPem = auth.cert !== undefined && auth.key !== undefined;
    if (hasPfx === hasPem) throw new CredentialConfigError(`${at}: certificate auth needs pfx/pfxFile or cert+key (not both)`);
    if (auth.pfx !== undefined && auth.pfxFile !== undefined) throw new CredentialConfigError(`${at}: give only one of pfx, pfxFile`);
    if (auth.pfxFile !== undefined && !existsSync(auth.pfxFile)) throw new CredentialConfigError(`${at}.pfxFile: file not found: ${auth.pfxFile}`);
  }
}
