import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createProviders, UnknownCredentialError } from '../../push/vendors/providers.ts';
import { SandboxProvider } from '../../push/vendors/sandbox/sandbox-provider.ts';
import { CredentialConfigError, type PushMessage, type PushTarget } from '../../push/vendors/contract.ts';

const msg = (over: Partial<PushMessage> = {}): PushMessage => ({
  id: randomUUID(), purpose: 'message', kind: 'alert', priority: 'high', title: 'Alice', body: 'hello', data: { chatId: '42' }, ...over,
});
const apnsTarget: PushTarget = { registration: 'apns', token: 'ab'.repeat(32), credential: 'ios', options: { topic: 'com.example.app' } };
const fcmTarget: PushTarget = { registration: 'fcm', token: 'fcm-token', credential: 'android', options: {} };

describe('SandboxProvider', () => {
  it('records vendor-shaped payloads and answers delivered', async () => {
    let now = 1_000;
    const sandbox = new SandboxProvider({ now: () => now });
    const m1 = msg();
    const m2 = msg({ kind: 'voip' });
    const o1 = await sandbox.send(apnsTarget, m1);
    now = 2_000;
    const o2 = await sandbox.send(fcmTarget, m2);

    assert.deepEqual(o1, { status: 'delivered', vendorId: 'sandbox-1' });
    assert.deepEqual(o2, { status: 'delivered', vendorId: 'sandbox-2' });
    const [r1, r2] = sandbox.list();
    assert.equal(sandbox.list().length, 2);
    assert.equal(r1?.at, 1_000);
    // As the device registered it (the admin API's shape): provider, token, credential, the vendor's fields.
    assert.deepEqual(r1?.target, { provider: 'apns', token: apnsTarget.token, credential: 'ios', topic: 'com.example.app' });
    assert.equal(r1?.messageId, m1.id);
    assert.deepEqual(r1?.payload, {
      vendor: 'apns',
      headers: { 'apns-push-type': 'alert', 'apns-priority': '10', 'apns-topic': 'com.example.app', 'apns-id': m1.id },
      payload: { aps: { alert: { title: 'Alice', body: 'hello' } }, chatId: '42' },
      truncated: false,
    });
    assert.equal(r2?.at, 2_000);
    assert.equal(r2?.payload.vendor, 'fcm');
    const fcm = r2?.payload.message as { notification?: unknown; data: unknown; android?: { priority?: string } };
    assert.equal(fcm.notification, undefined); // voip on FCM is data-only
    assert.deepEqual(fcm.data, { chatId: '42', pushId: m2.id });
    assert.equal(fcm.android?.priority, 'high');
  });

  it('keeps a bounded ring, oldest evicted first', async () => {
    const sandbox = new SandboxProvider({ max: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const m = msg();
      ids.push(m.id);
      await sandbox.send(fcmTarget, m);
    }
    assert.equal(sandbox.total, 5);
    assert.deepEqual(sandbox.list().map((r) => r.messageId), ids.slice(2));
    assert.deepEqual(sandbox.list().map((r) => r.seq), [3, 4, 5]);
    assert.deepEqual(sandbox.list(2).map((r) => r.messageId), ids.slice(3));
    sandbox.clear();
    assert.deepEqual(sandbox.list(), []);
    assert.throws(() => new SandboxProvider({ max: 0 }), RangeError);
  });

  it('rejects like the real providers when custom data alone is too large', async () => {
    const sandbox = new SandboxProvider();
    const outcome = await sandbox.send(fcmTarget, msg({ data: { blob: 'x'.repeat(5000) } }));
    assert.deepEqual(outcome, { status: 'rejected', reason: 'payload_too_large' });
    assert.equal(sandbox.list().length, 0);
  });
});

describe('createProviders', () => {
  it('routes everything to the sandbox when no credentials are configured', async () => {
    const registry = createProviders({});
    assert.equal(registry.sandboxMode, true);
    assert.equal(registry.forTarget(apnsTarget), registry.sandbox);
    assert.equal(registry.accepts('apns', 'anything'), true);
    assert.equal(registry.accepts('fcm', 'bad name!'), false);
    assert.deepEqual(registry.credentialNames(), []);
    await registry.close();
  });

  it('routes to the sandbox when sandbox: true even with credentials', async () => {
    const sandbox = new SandboxProvider();
    const registry = createProviders(
      { ios: { type: 'apns', topic: 'com.example.app', auth: { kind: 'token', key: 'k', keyId: 'K', teamId: 'T' } } },
      { sandbox: true, sandboxProvider: sandbox },
    );
    assert.equal(registry.forTarget(apnsTarget), sandbox);
    assert.deepEqual(registry.credentialNames(), ['ios']);
    await registry.forTarget(apnsTarget).send(apnsTarget, msg());
    assert.equal(sandbox.list().length, 1);
    await registry.close();
  });

  it('resolves configured credentials lazily and throws UnknownCredentialError otherwise', async () => {
    const registry = createProviders({
      ios: { type: 'apns', topic: 'com.example.app', auth: { kind: 'token', key: 'k', keyId: 'K', teamId: 'T' } },
      'android.prod': { type: 'fcm', serviceAccount: { project_id: 'p', client_email: 'e@p.iam.gserviceaccount.com', private_key: 'x' } },
    });
    assert.equal(registry.sandboxMode, false);
    assert.equal(registry.forTarget(apnsTarget).name, 'ios');
    assert.equal(registry.forTarget({ ...fcmTarget, credential: 'android.prod' }).name, 'android.prod');
    assert.equal(registry.accepts('apns', 'ios'), true);
    assert.equal(registry.accepts('apns-voip', 'ios'), true);
    assert.equal(registry.accepts('fcm', 'ios'), false, 'an APNs credential takes no FCM registrations');
    assert.equal(registry.accepts('apns', 'nope'), false);
    assert.throws(() => registry.forTarget({ ...apnsTarget, credential: 'nope' }), UnknownCredentialError);
    // Kind mismatch is surfaced as config_error, never as a dead token, by the registry for every
    // vendor: APNs and FCM providers have no check of their own (without it, APNs would answer dead_token).
    const mismatch = await registry.forTarget(apnsTarget).send({ ...fcmTarget, credential: 'ios' }, msg());
    assert.deepEqual(mismatch, { status: 'config_error', reason: 'credential "ios" is apns but the target registered as fcm' });
    const fcmMismatch = await registry.forTarget({ ...fcmTarget, credential: 'android.prod' }).send({ ...apnsTarget, credential: 'android.prod' }, msg());
    assert.deepEqual(fcmMismatch, { status: 'config_error', reason: 'credential "android.prod" is fcm but the target registered as apns' });
    await registry.close();
  });

  it('validates names and shapes with clear errors that never echo secrets', () => {
    const bad: [unknown, RegExp][] = [
      [{ 'has space': { type: 'fcm', serviceAccountFile: '/x' } }, /invalid push credential name/],
      [{ ['x'.repeat(33)]: { type: 'fcm', serviceAccountFile: '/x' } }, /invalid push credential name/],
      [{ a: { type: 'gcm' } }, /type must be one of "apns", "fcm"/],
      [{ a: { type: 'apns', auth: { kind: 'token', key: 'k', keyId: 'K', teamId: 'T' } } }, /topic/],
      [{ a: { type: 'apns', topic: 't', auth: { kind: 'token', keyId: 'K', teamId: 'T' } } }, /exactly one of key, keyFile/],
      [{ a: { type: 'apns', topic: 't', auth: { kind: 'certificate', passphrase: 'TOPSECRET' } } }, /pfx\/pfxFile or cert\+key/],
      [{ a: { type: 'apns', topic: 't', auth: { kind: 'token', keyFile: '/definitely/missing.p8', keyId: 'K', teamId: 'T' } } }, /file not found/],
      [{ a: { type: 'apns', topic: 't', auth: { kind: 'token', key: 'k', keyId: 'K', teamId: 'T' }, endpoints: { development: { host: 'h', port: 0 } } } }, /port/],
      [{ a: { type: 'fcm' } }, /exactly one of serviceAccount, serviceAccountFile/],
      [{ a: { type: 'fcm', serviceAccount: { project_id: 'p', private_key: 'TOPSECRET' } } }, /client_email/],
    ];
    for (const [config, re] of bad) {
      assert.throws(
        () => createProviders(config as never),
        (err: unknown) => err instanceof CredentialConfigError && re.test(err.message) && !err.message.includes('TOPSECRET'),
        `expected ${re} for ${JSON.stringify(config).slice(0, 80)}`,
      );
    }
  });
});
