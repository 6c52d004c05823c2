// Real firebase-admin (send() over HTTP/1.1 + google-auth-library OAuth2) against the fake FCM.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { createProviders, type ProviderRegistry as TidingsProviderRegistry } from '../../push/vendors/providers.ts';
import { FCM_MAX_PAYLOAD_BYTES, fcmPayloadBytes } from '../../push/vendors/fcm/fcm-payload.ts';
import { ELLIPSIS } from '../../push/vendors/text-fit.ts';
import { CredentialConfigError, type PushMessage, type PushTarget } from '../../push/vendors/contract.ts';
import { startFakeFcm, type FakeFcm } from '../../tools/fakes/fcm-server.ts';
import { makeServiceAccount, type TestServiceAccount } from '../../tools/fakes/fcm-service-account.ts';

const TOKEN = `fK3s9dQ2RZ:APA91b${'Hq7xZ_w-'.repeat(18)}`;

function msg(over: Partial<PushMessage> = {}): PushMessage {
  return { id: randomUUID(), purpose: 'message', kind: 'alert', priority: 'high', title: 'Alice', body: 'hello', data: {}, ...over };
}
const target = (over: Partial<PushTarget> = {}): PushTarget => ({ registration: 'fcm', token: TOKEN, credential: 'android', options: {}, ...over });

describe('FCM provider (firebase-admin against fake FCM)', () => {
  let dir: string;
  let sa: TestServiceAccount;
  let saFile: string;
  let fake: FakeFcm;
  const registries: TidingsProviderRegistry[] = [];

  function registry(file = saFile): TidingsProviderRegistry {
    const r = createProviders({
      android: { type: 'fcm', serviceAccountFile: file, endpoint: { host: fake.host, port: fake.port, ca: fake.ca } },
    });
    registries.push(r);
    return r;
  }
  const send = (m: PushMessage, t: PushTarget = target()) => registry().forTarget(t).send(t, m);
  // firebase-admin memoizes credentials (and their cached access token) per
  // service-account path, so tests that count OAuth grants use a fresh path.
  async function freshSaFile(): Promise<string> {
    const file = join(dir, `sa-${randomUUID()}.json`);
    await writeFile(file, JSON.stringify(sa.json), { mode: 0o600 });
    return file;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tidings-fcm-test-'));
    sa = await makeServiceAccount('tidings-test');
    saFile = join(dir, 'service-account.json');
    await writeFile(saFile, JSON.stringify(sa.json), { mode: 0o600 });
    fake = await startFakeFcm({ serviceAccounts: [sa] });
  });
  beforeEach(() => {
    fake.control.reset();
    fake.received.length = 0;
    fake.rejected.length = 0;
    fake.tokenGrants.length = 0;
  });
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.close()));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers with notification/data/android/webpush fields and a token from the fake OAuth exchange', async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 600;
    const m = msg({ collapseId: 'chat-42', expiresAt, sound: 'ping', badge: 2, data: { chatId: '42', url: 'tidings://c/42' } });
    const outcome = await registry(await freshSaFile()).forTarget(target()).send(target(), m);

    assert.equal(fake.received.length, 1);
    const got = fake.received[0]!;
    assert.deepEqual(outcome, { status: 'delivered', vendorId: got.name, httpStatus: 200 });
    assert.match(got.name, /^projects\/tidings-test\/messages\//);
    assert.equal(fake.tokenGrants.length, 1);
    assert.equal(fake.tokenGrants[0]!.clientEmail, sa.clientEmail);
    assert.equal(got.accessToken, fake.tokenGrants[0]!.accessToken);
    assert.equal(got.headers.host, 'fcm.googleapis.com');

    const wire = got.message as Record<string, any>;
    assert.equal(wire.token, TOKEN);
    assert.deepEqual(wire.notification, { title: 'Alice', body: 'hello' });
    assert.deepEqual(wire.data, { chatId: '42', url: 'tidings://c/42', pushId: m.id });
    assert.ok(Object.values(wire.data).every((v) => typeof v === 'string'));
    assert.equal(wire.android.priority, 'high');
    assert.equal(wire.android.collapse_key, 'chat-42');
    const ttl = Number(/^(\d+)s$/.exec(wire.android.ttl)?.[1]);
    assert.ok(ttl >= 598 && ttl <= 600, `ttl ${wire.android.ttl}`);
    assert.deepEqual(wire.android.notification, { sound: 'ping', notification_count: 2 });
    assert.equal(wire.webpush.headers.Urgency, 'high');
    assert.equal(wire.apns, undefined);
  });

  it('reuses the access token across sends', async () => {
    const p = registry(await freshSaFile()).forTarget(target());
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal(fake.tokenGrants.length, 1);
    assert.deepEqual(fake.received.map((r) => r.accessToken), [fake.tokenGrants[0]!.accessToken, fake.tokenGrants[0]!.accessToken]);
  });

  it('maps UNREGISTERED and invalid tokens to dead_token', async () => {
    fake.control.deadTokens.add(TOKEN);
    const gone = await send(msg());
    assert.equal(gone.status, 'dead_token');
    assert.match('reason' in gone ? gone.reason : '', /registration-token-not-registered/);
    fake.control.reset();
    fake.control.invalidTokens.add(TOKEN);
    const invalid = await send(msg());
    assert.equal(invalid.status, 'dead_token');
    assert.match('reason' in invalid ? invalid.reason : '', /not a valid FCM registration token/);
  });

  it('maps 429 QUOTA_EXCEEDED to retry (one request, no library retry)', async () => {
    fake.control.failNext(1, 429, 'QUOTA_EXCEEDED');
    const outcome = await send(msg());
    assert.equal(outcome.status, 'retry');
    assert.match('reason' in outcome ? outcome.reason : '', /message-rate-exceeded/);
    assert.equal(fake.rejected.length, 1);
    assert.equal(fake.received.length, 0);
  });

  it('maps 503 UNAVAILABLE to retry when the library gives up', async () => {
    // Retry-After beyond firebase-admin's 60 s cap makes it surface the error at once.
    fake.control.failNext(1, 503, 'UNAVAILABLE', { retryAfterSec: 3600 });
    const outcome = await send(msg());
    assert.equal(outcome.status, 'retry');
    assert.match('reason' in outcome ? outcome.reason : '', /server-unavailable/);
  });

  it('documents that firebase-admin itself retries a single 503', async () => {
    fake.control.failNext(1, 503, 'UNAVAILABLE');
    const outcome = await send(msg());
    assert.equal(outcome.status, 'delivered');
    assert.equal(fake.rejected.length, 1);
    assert.equal(fake.received.length, 1);
  });

  it('maps SENDER_ID_MISMATCH to config_error', async () => {
    fake.control.senderMismatchTokens.add(TOKEN);
    const outcome = await send(msg());
    assert.equal(outcome.status, 'config_error');
    assert.match('reason' in outcome ? outcome.reason : '', /mismatched-credential/);
  });

  it('maps a service account key the token endpoint rejects (invalid_grant) to config_error', async () => {
    const impostor = await makeServiceAccount('tidings-test');
    const file = join(dir, 'impostor.json');
    await writeFile(file, JSON.stringify({ ...impostor.json, client_email: sa.clientEmail }), { mode: 0o600 });
    const outcome = await registry(file).forTarget(target()).send(target(), msg());
    assert.equal(outcome.status, 'config_error');
    assert.match('reason' in outcome ? outcome.reason : '', /invalid_grant/);
    assert.ok(!JSON.stringify(outcome).includes('PRIVATE KEY'));
    assert.equal(fake.received.length + fake.rejected.length, 0);
  });

  it('truncates an oversized body so notification+data fit 4096 bytes', async () => {
    const body = 'Grüße 👋 '.repeat(900);
    const m = msg({ body, data: { chatId: '42' } });
    const outcome = await send(m);
    assert.equal(outcome.status, 'delivered');
    const wire = fake.received[0]!.message as { notification: { title: string; body: string }; data: Record<string, string> };
    const bytes = fcmPayloadBytes(wire.notification, wire.data);
    assert.ok(bytes <= FCM_MAX_PAYLOAD_BYTES && bytes > FCM_MAX_PAYLOAD_BYTES - 64, `bytes=${bytes}`);
    assert.ok(wire.notification.body.endsWith(ELLIPSIS));
    assert.ok(body.startsWith(wire.notification.body.slice(0, -1)));
  });

  it('sends background pushes as data-only messages', async () => {
    const m = msg({ kind: 'background', priority: 'normal', title: 'ignored', body: 'ignored', data: { sync: 'inbox' } });
    assert.equal((await send(m)).status, 'delivered');
    const wire = fake.received[0]!.message as Record<string, any>;
    assert.equal(wire.notification, undefined);
    assert.deepEqual(wire.data, { sync: 'inbox', pushId: m.id });
    assert.equal(wire.android.priority, 'normal');
    assert.equal(wire.android.notification, undefined);
  });

  it('refuses endpoint redirection with an inline service account', () => {
    assert.throws(
      () => createProviders({ android: { type: 'fcm', serviceAccount: sa.json, endpoint: { host: fake.host, port: fake.port } } }),
      (err: unknown) => err instanceof CredentialConfigError && /serviceAccountFile/.test(err.message) && !err.message.includes('PRIVATE KEY'),
    );
  });
});
