import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApns, type FakeApns } from '../../tools/fakes/apns-server.ts';
import { startFakeFcm, type FakeFcm } from '../../tools/fakes/fcm-server.ts';
import { makeServiceAccount } from '../../tools/fakes/fcm-service-account.ts';
import type { CredentialsConfig } from '../../push/vendors/providers.ts';
import type { TestClient } from './client.ts';
import { eventually, type TestServer } from './server.ts';
import { explainMessage } from '../../push/why.ts';
import type { ServerFrame } from '../../protocol/index.ts';

export const BUNDLE = 'com.example.tidings';

/** Fake Apple (development and production endpoints) and fake Google, plus credentials for them. */
export interface PushEnv {
  apnsDev: FakeApns;
  apnsProd: FakeApns;
  fcm: FakeFcm;
  credentials: CredentialsConfig;
  close(): Promise<void>;
}

export async function startPushEnv(): Promise<PushEnv> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const tokenKeys = [{ keyId: 'KEY1234567', teamId: 'TEAM123456', publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }];
  const account = await makeServiceAccount('tidings-e2e');
  const [apnsDev, apnsProd, fcm] = await Promise.all([
    startFakeApns({ environment: 'development', tokenKeys, topic: BUNDLE }),
    startFakeApns({ environment: 'production', tokenKeys, topic: BUNDLE }),
    startFakeFcm({ serviceAccounts: [{ clientEmail: account.clientEmail, projectId: account.projectId, publicKey: account.publicKey }] }),
  ]);
  // firebase-admin only routes the OAuth exchange through a custom agent for file-based accounts.
  const dir = mkdtempSync(join(tmpdir(), 'tidings-sa-'));
  const serviceAccountFile = join(dir, 'service-account.json');
  writeFileSync(serviceAccountFile, JSON.stringify(account.json), { mode: 0o600 });
  const credentials: CredentialsConfig = {
    ios: {
      type: 'apns', topic: BUNDLE, auth: { kind: 'token', key, keyId: 'KEY1234567', teamId: 'TEAM123456' },
      endpoints: { development: { host: apnsDev.host, port: apnsDev.port }, production: { host: apnsProd.host, port: apnsProd.port } },
      ca: apnsDev.ca,
    },
    android: { type: 'fcm', serviceAccountFile, endpoint: { host: fcm.host, port: fcm.port, ca: fcm.ca } },
  };
  return {
    apnsDev, apnsProd, fcm, credentials,
    async close() {
      await Promise.all([apnsDev.close(), apnsProd.close(), fcm.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fast retries and polling so outbox behaviour is observable within a test. */
export function pushTestConfig(env: PushEnv, over: Record<string, unknown> = {}) {
  // Collapse is off unless a test asks for it, so per-event push behaviour stays observable.
  return { credentials: env.credentials, retryBaseMs: 50, retryMaxMs: 200, pollMs: 20, startupGraceMs: 60_000, collapseWindowMs: 0, ...over };
}

export const apnsToken = (n: number) => n.toString(16).padStart(8, '0').repeat(8);
export const fcmToken = (name: string) => `fcm-${name}:APA91b${'x'.repeat(100)}`;

export async function registerApns(client: TestClient, token: string, environment: 'development' | 'production' = 'development') {
  return client.expect({ type: 'push_register', provider: 'apns', token, credential: 'ios', environment }, 'push_registered');
}

export async function registerFcm(client: TestClient, token: string) {
  return client.expect({ type: 'push_register', provider: 'fcm', token, credential: 'android' }, 'push_registered');
}

/** Pushes the fakes accepted for a token. */
export function apnsTo(fake: FakeApns, token: string) {
  return fake.received.filter((p) => p.token === token);
}

export async function waitForPushes<T>(list: () => T[], count: number, timeoutMs = 5000): Promise<T[]> {
  return eventually(() => (list().length >= count ? list() : undefined), timeoutMs, `${count} pushes`);
}

/** Wait until the push trigger and dispatcher have nothing in progress. */
export async function settlePush(t: TestServer): Promise<void> {
  await t.server.ctx.push.service.settled();
  await t.server.ctx.push.service.dispatcher.drain();
}

/** The final push outcome per device of one recipient, as `tidings why` reports it. */
export async function pushOutcomes(t: TestServer, ack: ServerFrame, user: string): Promise<string[]> {
  if (ack.type !== 'send_ack') throw new Error(`not a send_ack: ${JSON.stringify(ack)}`);
  await settlePush(t);
  const ctx = t.server.ctx;
  const explained = await explainMessage({ log: ctx.store.log, store: ctx.store.push, cursors: ctx.store.cursors }, ack.messageId, (g) => ctx.store.readModels.groupMembers(g), user);
  return explained?.recipients.find((r) => r.userId === user)?.devices.map((d) => d.outcome) ?? [];
}
