// The registry with every vendor, carrier choice across them, and the sandbox's previews with and
// without configured credentials (the contract's credential argument and `not_supported`).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { chooseCarriers } from '../../push/carriers.ts';
import type { PushMessage, PushTarget } from '../../push/vendors/contract.ts';
import { createProviders } from '../../push/vendors/providers.ts';
import { REGISTRATION_KINDS, registrationKind, VENDOR_TYPES } from '../../push/vendors/registry.ts';
import type { PushBinding } from '../../storage/index.ts';

const msg = (over: Partial<PushMessage> = {}): PushMessage => ({
  id: randomUUID(), purpose: 'message', kind: 'alert', priority: 'high', title: 'Alice', body: 'hello', data: { conversation: 'p:alice:bob' }, ...over,
});
const binding = (registration: string, credential: string, pushId = `pid-${registration}`): PushBinding => ({
  pushId, userId: 'bob', deviceId: 'bob-phone', registration, token: `${registration}-token-0123456789`, credential, options: {}, active: true,
} as PushBinding);

describe('push vendor registry', () => {
  it('lists every vendor once, each with its registration kinds', () => {
    assert.deepEqual([...VENDOR_TYPES].sort(), ['apns', 'fcm', 'honor', 'huawei', 'oppo', 'vivo', 'webpush', 'xiaomi']);
    assert.deepEqual([...REGISTRATION_KINDS].sort(), ['apns', 'apns-voip', 'fcm', 'honor', 'huawei', 'oppo', 'vivo', 'webpush', 'xiaomi']);
    for (const oem of ['huawei', 'honor', 'xiaomi', 'oppo', 'vivo']) assert.equal(registrationKind(oem)!.kind.priority, 50, oem);
    assert.equal(registrationKind('webpush')!.kind.priority, 40);
    assert.equal(registrationKind('fcm')!.kind.priority, 10);
  });

  it('loading the registry does not load the web-push package (lazy, like the APNs and FCM SDKs)', () => {
    const script = "await import('./push/vendors/registry.ts'); const { createRequire } = await import('node:module');"
      + " const cache = createRequire(import.meta.url).cache; process.stdout.write(String(Object.keys(cache).some((k) => /node_modules[\\\\/](web-push|@parse|firebase-admin)[\\\\/]/.test(k))));";
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(out, 'false');
  });

  it('carrier choice: an OEM token beats FCM; OPPO/vivo leave background purposes to FCM; an unconfigured credential is skipped', () => {
    const oppo = binding('oppo', 'oppo-cn');
    const fcm = binding('fcm', 'android');
    const all = () => true;
    const message = chooseCarriers([fcm, oppo], 'message', all);
    assert.deepEqual(message.carriers.map((b) => b.registration), ['oppo', 'fcm']);
    assert.equal(message.why, 'via oppo; priority 50 over fcm (10)');
    // badge_update / call_over are not job kinds today; carries() is what carrier choice asks.
    assert.equal(registrationKind('oppo')!.kind.carries('badge_update'), false);
    assert.equal(registrationKind('vivo')!.kind.carries('call_over'), false);
    assert.equal(registrationKind('huawei')!.kind.carries('badge_update'), true);
    const unconfigured = chooseCarriers([fcm, oppo], 'message', (c) => c !== 'oppo-cn');
    assert.deepEqual(unconfigured.carriers.map((b) => b.registration), ['fcm']);
    assert.equal(unconfigured.why, 'via fcm; skipped oppo: credential "oppo-cn" not configured');
  });

  it('the sandbox previews with the configured credential and answers not_supported like the real provider', async () => {
    const registry = createProviders({
      hms: { type: 'huawei', appId: '101234567', appSecret: 'sandbox-secret-value', channelId: 'messages', endpoints: { pushUrl: 'https://push.example.test' } },
      'oppo-cn': { type: 'oppo', appKey: 'oppo-key', masterSecret: 'oppo-master-secret', channelId: 'im_channel' },
    }, { sandbox: true });
    assert.equal(registry.sandboxMode, true);
    const huawei: PushTarget = { registration: 'huawei', token: 'hms-token-0123456789', credential: 'hms', options: {} };
    assert.equal((await registry.forTarget(huawei).send(huawei, msg())).status, 'delivered');
    const [record] = registry.sandbox.list();
    const request = record!.payload as unknown as { url: string; body: { message: { android: { notification: { channel_id: string } } } } };
    assert.equal(request.url, 'https://push.example.test/v1/101234567/messages:send');
    assert.equal(request.body.message.android.notification.channel_id, 'messages');
    assert.ok(!JSON.stringify(record).includes('sandbox-secret-value'), 'no secret in the sandbox record');

    const oppo: PushTarget = { registration: 'oppo', token: 'CN_0123456789abcdef', credential: 'oppo-cn', options: {} };
    await registry.forTarget(oppo).send(oppo, msg());
    const oppoRecord = registry.sandbox.list().at(-1)!.payload as unknown as { url: string; form: { message: { notification: { channel_id: string } } } };
    assert.equal(oppoRecord.form.message.notification.channel_id, 'im_channel');
    assert.match(oppoRecord.url, /^https:\/\/.*\/server\/v1\/message\/notification\/unicast$/);
    assert.ok(!JSON.stringify(oppoRecord).includes('oppo-master-secret'));
    const background = await registry.forTarget(oppo).send(oppo, msg({ purpose: 'badge_update', kind: 'background', title: undefined, body: undefined }));
    assert.deepEqual(background, { status: 'rejected', reason: 'not_supported: oppo has no silent push for a background push' });

    // A credential name the config does not have: placeholders naming the setting.
    const unknown: PushTarget = { registration: 'oppo', token: 'CN_0123456789abcdef', credential: 'elsewhere', options: {} };
    await registry.forTarget(unknown).send(unknown, msg());
    const placeholder = registry.sandbox.list().at(-1)!.payload as unknown as { form: { message: { notification: { channel_id: string } } } };
    assert.equal(placeholder.form.message.notification.channel_id, '<push.credentials.elsewhere.channelId>');
    await registry.close();
  });
});
