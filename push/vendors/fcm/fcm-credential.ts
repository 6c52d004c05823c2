import { existsSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { CredentialConfigError } from '../contract.ts';

export const FcmCredentialSchema = Type.Object({
  type: Type.Literal('fcm'),
  /** A Google service account key, inline or as a file (exactly one). */
  serviceAccount: Type.Optional(Type.Object({
    project_id: Type.String({ minLength: 1 }), client_email: Type.String({ minLength: 1 }), private_key: Type.String({ minLength: 1 }),
  }, { additionalProperties: true })),
  serviceAccountFile: Type.Optional(Type.String({ minLength: 1 })),
  projectId: Type.Optional(Type.String({ minLength: 1 })),
  /** Only for fakes/tests: every Google connection (OAuth2 + FCM) is redirected here. */
  endpoint: Type.Optional(Type.Object({
    host: Type.String({ minLength: 1 }), port: Type.Integer({ minimum: 1, maximum: 65535 }), ca: Type.Optional(Type.String({ minLength: 1 })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

export type FcmCredential = Static<typeof FcmCredentialSchema>;

export function checkFcmCredential(name: string, c: FcmCredential): void {
  const at = `push.credentials.${name}`;
  if ((c.serviceAccount !== undefined) === (c.serviceAccountFile !== undefined)) {
    throw new CredentialConfigError(`${at}: needs exactly one of serviceAccount, serviceAccountFile`);
  }
  if (c.serviceAccountFile !== undefined && !existsSync(c.serviceAccountFile)) {
    throw new CredentialConfigError(`${at}.serviceAccountFile: file not found: ${c.serviceAccountFile}`);
  }
  if (c.endpoint !== undefined && c.serviceAccount !== undefined) {
    // firebase-admin 13 ignores the redirecting agent for inline service accounts during the
    // OAuth2 exchange (see fcm-provider.ts).
    throw new CredentialConfigError(`${at}.endpoint: endpoint redirection requires serviceAccountFile, not an inline serviceAccount`);
  }
}
