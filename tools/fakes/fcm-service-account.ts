// Service-account JSON for tests: same fields as a Firebase console download,
// with a fresh RSA key whose public half the fake FCM server uses to verify
// the OAuth2 JWT-bearer assertion.

import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const genKeyPair = promisify(generateKeyPair);

export interface TestServiceAccount {
  /** What goes into `CredentialConfig.serviceAccount` (or a serviceAccountFile). */
  json: Record<string, string>;
  projectId: string;
  clientEmail: string;
  /** SPKI PEM, handed to startFakeFcm({ serviceAccounts }). */
  publicKey: string;
}

export async function makeServiceAccount(projectId = 'tidings-test'): Promise<TestServiceAccount> {
  const { publicKey, privateKey } = await genKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const clientEmail = `firebase-adminsdk-${randomBytes(3).toString('hex')}@${projectId}.iam.gserviceaccount.com`;
  return {
    projectId,
    clientEmail,
    publicKey,
    json: {
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey,
      client_email: clientEmail,
      client_id: String(100000000000000000000n + BigInt(randomBytes(6).readUIntBE(0, 6))),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: 'https://oauth2.googleapis.com/token',
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
      universe_domain: 'googleapis.com',
    },
  };
}
