/**
 * One Web Push credential (`push.credentials.<name>`): the VAPID key pair the web app's
 * `pushManager.subscribe({ applicationServerKey })` used, and the contact (`sub`) the push
 * services may write to. There is no host to configure: every subscription names its own
 * push service; `endpoints.ca` only lets tests trust a local fake.
 */
import { createECDH } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { CredentialConfigError } from '../contract.ts';
import { checkPemCa } from '../credential-check.ts';
import { VAPID_PRIVATE_KEY_BYTES, VAPID_PUBLIC_KEY_BYTES } from './webpush-facts.ts';

const base64url = (description: string, maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+$', description });

export const WebPushCredentialSchema = Type.Object({
  type: Type.Literal('webpush'),
  subject: Type.String({ minLength: 8, maxLength: 512, pattern: '^(mailto:|https://)', description: 'VAPID contact: a `mailto:` address or an `https:` URL.' }),
  publicKey: base64url('VAPID public key (base64url, 65 bytes uncompressed P-256), the applicationServerKey of the web app.', 128),
  privateKey: base64url('VAPID private key (base64url, 32 bytes); never sent.', 64),
  requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000, description: 'Timeout of one request to a push service.' })),
  endpoints: Type.Optional(Type.Object({
    ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM of an extra CA to trust (a local fake push service).' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

export type WebPushCredential = Static<typeof WebPushCredentialSchema>;

/** What the schema cannot say. Messages name the setting and never carry a value. */
export function checkWebPushCredential(name: string, credential: WebPushCredential): void {
  const at = `push.credentials.${name}`;
  let subject: URL;
  try {
    subject = new URL(credential.subject);
  } catch {
    throw new CredentialConfigError(`${at}.subject must be a mailto: address or an https: URL`);
  }
  if (subject.protocol !== 'mailto:' && subject.protocol !== 'https:') throw new CredentialConfigError(`${at}.subject must be a mailto: address or an https: URL`);
  // Safari's push service refuses a localhost subject (web-push README).
  if (subject.hostname === 'localhost') throw new CredentialConfigError(`${at}.subject must not point at localhost (Apple's push service refuses it)`);

  const publicKey = Buffer.from(credential.publicKey, 'base64url');
  if (publicKey.length !== VAPID_PUBLIC_KEY_BYTES || publicKey[0] !== 0x04) {
    throw new CredentialConfigError(`${at}.publicKey must be a base64url uncompressed P-256 public key (${VAPID_PUBLIC_KEY_BYTES} bytes)`);
  }
  const privateKey = Buffer.from(credential.privateKey, 'base64url');
  if (privateKey.length !== VAPID_PRIVATE_KEY_BYTES) {
    throw new CredentialConfigError(`${at}.privateKey must be a base64url P-256 private key (${VAPID_PRIVATE_KEY_BYTES} bytes)`);
  }
  let derived: Buffer;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(privateKey);
    derived = ecdh.getPublicKey();
  } catch {
    throw new CredentialConfigError(`${at}.privateKey is not a valid P-256 private key`);
  }
  // A mismatched pair signs JWTs no push service accepts: every push would fail with 401/403.
  if (!derived.equals(publicKey)) throw new CredentialConfigError(`${at}.publicKey is not the public key of ${at}.privateKey`);
  checkPemCa(`${at}.endpoints.ca`, credential.endpoints?.ca);
}
