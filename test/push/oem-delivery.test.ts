// End to end, per vendor (Huawei, Honor, Xiaomi, OPPO, vivo, Web Push): a real server, real
// sockets and the vendor's fake over HTTPS. One test body per case, run for every vendor.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ANDROID_OEMS, OEM_VENDORS, registerOem, startOemPushEnv, type OemPushEnv, type OemVendor } from '../helpers/oem-push-env.ts';
import { fcmToken, pushOutcomes, pushTestConfig, registerFcm, settlePush, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep, startTestServer, type TestServer } from '../helpers/server.ts';
import { explainMessage } from '../../push/why.ts';
import type { ServerFrame } from '../../protocol/index.ts';
import { untilNextFullHourMs } from '../../push/vendors/code-classes.ts';
import { msUntilNextBeijingMidnight } from '../../push/vendors/xiaomi/xiaomi-facts.ts';

let base: PushEnv;
let oem: OemPushEnv;
let t: TestServer;

before(async () => {
  [base, oem] = await Promise.all([startPushEnv(), startOemPushEnv()]);
  t = await startTestServer({ push: pushTestConfig(base, { credentials: { ...base.credentials, ...oem.credentials } }) });
});
after(async () => {
  await t.stop();
  await Promise.all([base.close(), oem.close()]);
});

/** Vendors whose requests carry no access token from a token endpoint. */
const NO_ACCESS_TOKEN = new Set(['xiaomi', 'webpush']);

const messageIdOf = (ack: ServerFrame): string => (ack.type === 'send_ack' ? ack.messageId : assert.fail(`not a send_ack: ${JSON.stringify(ack)}`));

/** A user of this test whose one device registered `token` with the vendor and went offline. */
async function offlineDevice(vendor: OemVendor, user: string, token: unknown, credential = vendor.credential): Promise<string> {
  const deviceId = `${user}-dev`;
  const client = await t.connect(user, deviceId, vendor.platform);
  await registerOem(client, vendor, token, credential);
  await client.close();
  await t.server.ctx.push.service.settled();
  return deviceId;
}

/** The decision trace of one message for one user's device, as `tidings why` shows it. */
async function traceOf(ack: ServerFrame, user: string) {
  await settlePush(t);
  const ctx = t.server.ctx;
  const explained = await explainMessage({ log: ctx.store.log, store: ctx.store.push, cursors: ctx.store.cursors }, messageIdOf(ack), (g) => ctx.store.readModels.groupMembers(g), user);
  return explained!.recipients.find((r) => r.userId === user)!.devices;
}

for (const name of OEM_VENDORS) {
  describe(`${name} end to end`, () => {
    const v = () => oem.vendors[name];

    test(`${name}: an offline device gets exactly one push with the message's body and click-through data`, async () => {
      const token = v().newToken('deliver');
      const user = `${name}-bob`;
      await offlineDevice(v(), user, token);
      const alice = await t.connect(`${name}-alice`);
      const ack = await alice.request({ type: 'send', clientMsgId: 'd1', to: { user }, content: { type: 'text', text: 'hi bob' }, push: { title: 'Alice', content: 'hi bob', payload: 'open:chat' } });
      const [push] = await waitForPushes(() => v().pushesTo(token), 1);
      assert.equal(push!.title, 'Alice');
      assert.equal(push!.body, 'hi bob');
      assert.equal(push!.data.sender, `${name}-alice`);
      assert.equal(push!.data.receiver, user);
      assert.equal(push!.data.messageId, messageIdOf(ack));
      assert.equal(push!.data.conversationType, 'peer');
      assert.equal(push!.data.payload, 'open:chat');
      assert.ok(push!.key !== '', 'the push carries its idempotency key');
      assert.deepEqual(await pushOutcomes(t, ack, user), ['pushed:delivered']);
      await sleep(150);
      assert.equal(v().pushesTo(token).length, 1, 'exactly once');
    });

    test(`${name}: a token the vendor reports dead is pruned and never tried again (DEV-7)`, async () => {
      const token = v().newToken('dead');
      const user = `${name}-dead`;
      const deviceId = await offlineDevice(v(), user, token);
      v().kill(token);
      const alice = await t.connect(`${name}-alice`);
      const first = await alice.sendText({ user }, 'first', 'x1');
      await eventually(async () => (await t.server.ctx.store.push.bindingsForDevice(user, deviceId)).length === 0, 5000, 'binding pruned');
      assert.deepEqual(await pushOutcomes(t, first, user), ['failed:dead_token']);
      const second = await alice.sendText({ user }, 'second', 'x2');
      assert.deepEqual(await pushOutcomes(t, second, user), ['suppressed:no_binding'], 'no job for the pruned token');
      assert.equal(v().pushesTo(token).length, 0);
    });

    test(`${name}: an access token that expires mid-run is refreshed and the push delivered once`, { skip: NO_ACCESS_TOKEN.has(name) ? `${name} has no access token to expire (the secret, or a VAPID JWT signed per request)` : false }, async () => {
      const token = v().newToken('auth');
      const user = `${name}-auth`;
      await offlineDevice(v(), user, token);
      const alice = await t.connect(`${name}-alice`);
      await alice.sendText({ user }, 'before', 'a1');
      await waitForPushes(() => v().pushesTo(token), 1);
      const authBefore = v().authRequests();
      v().expireAuth!();
      const ack = await alice.sendText({ user }, 'after expiry', 'a2');
      await waitForPushes(() => v().pushesTo(token), 2);
      assert.deepEqual(await pushOutcomes(t, ack, user), ['pushed:delivered']);
      assert.equal(v().authRequests(), authBefore + 1, 'one new access token');
      await sleep(150);
      const pushes = v().pushesTo(token);
      assert.equal(pushes.length, 2, 'each message once');
      assert.equal(pushes.filter((p) => p.data.messageId === messageIdOf(ack)).length, 1);
    });

    test(`${name}: a rate limit is retried later and delivers once; a quota answer keeps the job pending, never prunes (OPS-3)`, async () => {
      const token = v().newToken('quota');
      const user = `${name}-quota`;
      const deviceId = await offlineDevice(v(), user, token);
      const alice = await t.connect(`${name}-alice`);
      v().failOnceTransient();
      const limited = await alice.sendText({ user }, 'rate limited', 'q1');
      await waitForPushes(() => v().pushesTo(token), 1);
      const steps = (await traceOf(limited, user))[0]!.steps.map((s) => `${s.decision}:${s.reason}`);
      assert.deepEqual(steps, ['queued:offline', 'retry:vendor_retry', 'pushed:delivered']);
      v().quotaExceeded(true);
      try {
        // The quota's reset as each vendor's facts have it: Xiaomi's daily quota at midnight in
        // Beijing, the others' unknown reset hour at the next full hour (at least 5 min away).
        const sentAt = Date.now();
        const resetAt = sentAt + (name === 'xiaomi' ? msUntilNextBeijingMidnight(sentAt) : untilNextFullHourMs(sentAt));
        const over = await alice.sendText({ user }, 'over quota', 'q2');
        const job = await eventually(async () => (await t.server.ctx.store.push.jobs({ userId: user }, 10)).find((j) => j.attempts >= 1 && j.state === 'pending'), 5000, 'retry scheduled');
        assert.ok(job.nextAttemptAt >= resetAt - 1000, `retried when the quota resets (${new Date(resetAt).toISOString()}), not hammered: ${new Date(job.nextAttemptAt).toISOString()}`);
        assert.equal((await pushOutcomes(t, over, user))[0], 'retry:vendor_retry');
        assert.equal((await t.server.ctx.store.push.bindingsForDevice(user, deviceId)).length, 1, 'binding kept');
        assert.equal(v().pushesTo(token).length, 1);
      } finally {
        v().quotaExceeded(false);
      }
    });

    test(`${name}: a wrong secret is a config error, surfaced in the trace; the binding is kept`, async () => {
      const token = v().newToken('badsecret');
      const user = `${name}-badsecret`;
      const deviceId = await offlineDevice(v(), user, token, v().badCredential);
      const alice = await t.connect(`${name}-alice`);
      const ack = await alice.sendText({ user }, 'wrong secret', 'w1');
      await eventually(async () => (await t.server.ctx.store.push.jobs({ userId: user, state: 'failed' }, 1))[0], 5000, 'failed job');
      assert.deepEqual(await pushOutcomes(t, ack, user), ['failed:config_error']);
      const [device] = await traceOf(ack, user);
      assert.ok(!JSON.stringify(device).includes(String(oem.credentials[v().badCredential]!.appSecret ?? oem.credentials[v().badCredential]!.clientSecret ?? oem.credentials[v().badCredential]!.masterSecret ?? oem.credentials[v().badCredential]!.privateKey)), 'no secret in the trace');
      assert.equal((await t.server.ctx.store.push.bindingsForDevice(user, deviceId)).length, 1, 'binding kept');
      assert.equal(v().pushesTo(token).length, 0);
    });

    if ((ANDROID_OEMS as readonly string[]).includes(name)) {
      test(`${name} + FCM on one phone: one push per event through ${name}; FCM only after ${name} reports the token dead`, async () => {
        const token = v().newToken('dual');
        const fcm = fcmToken(`${name}-dual`);
        const user = `${name}-dual`;
        const phone = await t.connect(user, `${user}-phone`, 'android');
        await registerOem(phone, v(), token);
        await registerFcm(phone, fcm);
        await phone.close();
        await t.server.ctx.push.service.settled();
        const toFcm = () => base.fcm.received.filter((m) => m.message.token === fcm);
        const alice = await t.connect(`${name}-alice`);

        const first = await alice.sendText({ user }, 'one', 'f1');
        await waitForPushes(() => v().pushesTo(token), 1);
        const [viaOem] = await traceOf(first, user);
        assert.equal(viaOem!.outcome, 'pushed:delivered');
        assert.equal(viaOem!.steps[0]!.detail, `via ${name}; priority 50 over fcm (10)`, 'the trace names the channel and why');

        v().kill(token);
        const second = await alice.sendText({ user }, 'two', 'f2');
        const [fallback] = await waitForPushes(toFcm, 1);
        assert.equal((fallback!.message.data as Record<string, string>).messageId, messageIdOf(second));
        const [afterDead] = await traceOf(second, user);
        const steps = afterDead!.steps.map((s) => `${s.decision}:${s.reason}`);
        assert.deepEqual(steps, ['queued:offline', 'failed:dead_token', 'queued:fallback', 'pushed:delivered']);
        assert.equal(afterDead!.steps[2]!.detail, `via fcm; fallback: ${name} token dead`);

        const third = await alice.sendText({ user }, 'three', 'f3');
        await waitForPushes(toFcm, 2);
        assert.equal((await traceOf(third, user))[0]!.steps[0]!.detail, 'via fcm');
        await sleep(150);
        assert.equal(v().pushesTo(token).length, 1, `${name} got only the first`);
        assert.equal(toFcm().length, 2, 'FCM got the second and the third, once each');
      });
    }
  });
}
