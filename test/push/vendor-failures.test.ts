import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apnsTo, apnsToken, fcmToken, pushOutcomes, pushTestConfig, registerApns, registerFcm, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep, startTestServer, type TestServer } from '../helpers/server.ts';
import type { TestClient } from '../helpers/client.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

test('DEV-7: a token APNs reports Unregistered (410) is pruned and never tried again', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = apnsToken(0xdead);
    env.apnsDev.control.deadTokens.add(token);
    const bob = await t.connect('bob', 'bob-old-iphone');
    await registerApns(bob, token);
    await bob.close();
    const alice = await t.connect('alice');
    await alice.sendText({ user: 'bob' }, 'first', 'c1');
    await eventually(async () => (await t.server.ctx.store.push.bindingsForDevice('bob', 'bob-old-iphone')).length === 0, 3000, 'binding pruned');
    const rejectedBefore = env.apnsDev.rejected.filter((r) => r.token === token).length;
    assert.equal(rejectedBefore, 1);
    assert.equal(env.apnsDev.rejected[env.apnsDev.rejected.length - 1]!.reason, 'Unregistered');
    const second = await alice.sendText({ user: 'bob' }, 'second', 'c2');
    assert.deepEqual(await pushOutcomes(t, second, 'bob'), ['suppressed:no_binding']);
    await sleep(200);
    assert.equal(env.apnsDev.rejected.filter((r) => r.token === token).length, 1, 'not tried again');
    const trace = await t.server.ctx.store.push.traceFor({ userId: 'bob' }, 10);
    assert.ok(trace.some((r) => r.reason === 'dead_token'));
  } finally {
    env.apnsDev.control.reset();
    await t.stop();
  }
});

test('DEV-7: an FCM token reported UNREGISTERED is pruned', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = fcmToken('gone');
    env.fcm.control.deadTokens.add(token);
    const bob = await t.connect('bob', 'bob-pixel', 'android');
    await registerFcm(bob, token);
    await bob.close();
    const alice = await t.connect('alice');
    await alice.sendText({ user: 'bob' }, 'hello', 'c1');
    await eventually(async () => (await t.server.ctx.store.push.bindingsForDevice('bob', 'bob-pixel')).length === 0, 3000, 'binding pruned');
  } finally {
    env.fcm.control.reset();
    await t.stop();
  }
});

test('OPS-3: a 429 then success delivers exactly once', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = apnsToken(0x429);
    const bob = await t.connect('bob', 'bob-iphone');
    await registerApns(bob, token);
    await bob.close();
    await t.server.ctx.push.service.settled();
    env.apnsDev.control.failNext(2, 429, 'TooManyRequests');
    const alice = await t.connect('alice');
    await alice.sendText({ user: 'bob' }, 'eventually', 'c1');
    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, token), 1);
    await sleep(400);
    assert.equal(apnsTo(env.apnsDev, token).length, 1, 'exactly one delivery');
    const jobs = await t.server.ctx.store.push.jobs({ userId: 'bob' }, 10);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.state, 'delivered');
    assert.equal(jobs[0]!.attempts, 3, 'two retryable failures, then the successful try');
    assert.equal(push!.apnsId, jobs[0]!.idempotencyKey, 'the apns-id is the job\'s idempotency key');
  } finally {
    env.apnsDev.control.reset();
    await t.stop();
  }
});

test('OPS-3: a job that keeps failing is dead-lettered after maxAttempts', async () => {
  const t = await startTestServer({ push: pushTestConfig(env, { maxAttempts: 3 }) });
  try {
    const token = apnsToken(0x503);
    const bob = await t.connect('bob', 'bob-iphone');
    await registerApns(bob, token);
    await bob.close();
    await t.server.ctx.push.service.settled();
    env.apnsDev.control.failNext(100, 503, 'ServiceUnavailable');
    const alice = await t.connect('alice');
    await alice.sendText({ user: 'bob' }, 'never', 'c1');
    const job = await eventually(async () => (await t.server.ctx.store.push.jobs({ userId: 'bob', state: 'dead_letter' }, 1))[0], 5000, 'dead letter');
    assert.equal(job.attempts, 3, 'every try counted');
    assert.equal(env.apnsDev.rejected.filter((r) => r.token === token).length, 3);
  } finally {
    env.apnsDev.control.reset();
    await t.stop();
  }
});

/**
 * Bob's iPhone is offline, a push to it failed once with 429 and its retry is due in ~1.5 s;
 * then Bob comes back on the same device and syncs. Returns the reconnected client.
 */
async function bobReturnsBeforeTheRetry(t: TestServer, token: string): Promise<TestClient> {
  const bob = await t.connect('bob', 'bob-iphone');
  await registerApns(bob, token);
  await bob.close();
  await t.server.ctx.push.service.settled();
  env.apnsDev.control.failNext(1, 429, 'TooManyRequests');
  const alice = await t.connect('alice');
  await alice.sendText({ user: 'bob' }, 'racing the reconnect', 'c1');
  await eventually(async () => (await t.server.ctx.store.push.jobs({ userId: 'bob' }, 1))[0]?.attempts === 1, 3000, 'first attempt');
  const back = await t.connect('bob', 'bob-iphone');
  await back.sync();
  await t.server.ctx.push.service.settled();
  return back;
}

test('a device that reconnects cancels its pending push jobs', async () => {
  const t = await startTestServer({ push: pushTestConfig(env, { retryBaseMs: 1500, retryMaxMs: 1500 }) });
  try {
    const token = apnsToken(0xbac);
    const back = await bobReturnsBeforeTheRetry(t, token);
    assert.equal(back.events.filter((e) => e.kind === 'message').length, 1, 'delivered over the socket instead');
    const [job] = await t.server.ctx.store.push.jobs({ userId: 'bob' }, 1);
    assert.equal(job!.state, 'cancelled');
    const trace = await t.server.ctx.store.push.traceFor({ userId: 'bob' }, 10);
    assert.ok(trace.some((r) => r.decision === 'cancelled' && r.reason === 'online' && r.eventId === job!.eventId), 'the cancel is in the trace');
    await sleep(1800);
    assert.equal(apnsTo(env.apnsDev, token).length, 0, 'the retry never happened');
  } finally {
    env.apnsDev.control.reset();
    await t.stop();
  }
});

test('MSG-4: a push cancelled because the device came back is sent when it drops again without acking', async () => {
  const t = await startTestServer({ push: pushTestConfig(env, { retryBaseMs: 1500, retryMaxMs: 1500 }) });
  try {
    const token = apnsToken(0xbad2);
    const back = await bobReturnsBeforeTheRetry(t, token);
    assert.equal((await t.server.ctx.store.push.jobs({ userId: 'bob' }, 1))[0]!.state, 'cancelled');
    // The app was killed before it acked: the message is owed as a push again, once.
    await back.terminate();
    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, token), 1, 4000);
    assert.equal((push!.payload as { receiver: string }).receiver, 'bob');
    await sleep(300);
    assert.equal(apnsTo(env.apnsDev, token).length, 1);
  } finally {
    env.apnsDev.control.reset();
    await t.stop();
  }
});

test('a topic mismatch is a config error: surfaced, not pruned', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = apnsToken(0x70b1c);
    const bob = await t.connect('bob', 'bob-iphone');
    await bob.expect({ type: 'push_register', provider: 'apns', token, credential: 'ios', environment: 'development', topic: 'com.other.app' }, 'push_registered');
    await bob.close();
    const alice = await t.connect('alice');
    await alice.sendText({ user: 'bob' }, 'wrong app', 'c1');
    const failed = await eventually(async () => (await t.server.ctx.store.push.jobs({ userId: 'bob', state: 'failed' }, 1))[0], 3000, 'failed job');
    assert.equal(failed.lastReason, 'config_error');
    assert.equal((await t.server.ctx.store.push.bindingsForDevice('bob', 'bob-iphone')).length, 1, 'binding kept');
  } finally {
    await t.stop();
  }
});
