import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apnsTo, apnsToken, pushOutcomes, pushTestConfig, registerApns, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { TestClient } from '../helpers/client.ts';
import { eventually, sleep, startTestServer } from '../helpers/server.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

test('DEV-4: logout clears the binding; a device that switches user never gets the old user\'s pushes', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = apnsToken(0x5a17);
    const alice = await t.connect('alice');
    // Device X logs in as A, registers, logs out.
    const x1 = await t.connect('userA', 'device-x');
    await registerApns(x1, token);
    await x1.expect({ type: 'logout' }, 'logged_out');
    const whileOut = await alice.sendText({ user: 'userA' }, 'to A while logged out', 'a1');
    assert.deepEqual(await pushOutcomes(t, whileOut, 'userA'), ['suppressed:no_binding']);
    // Same device logs in as B (still registered with the same token), then goes offline.
    const x2 = await t.connect('userB', 'device-x');
    await registerApns(x2, token);
    await x2.close();
    await t.server.ctx.push.service.settled();
    await alice.sendText({ user: 'userA' }, 'to A after the switch', 'a2');
    await alice.sendText({ user: 'userB' }, 'to B', 'b1');
    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, token), 1);
    assert.equal((push!.payload as { receiver: string }).receiver, 'userB');
    await sleep(300);
    assert.equal(apnsTo(env.apnsDev, token).length, 1, 'A\'s messages never reach device X');
  } finally {
    await t.stop();
  }
});

test('DEV-4 (automatic): logging in as B without logging out first deactivates A\'s binding on that device', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = apnsToken(0x5a18);
    const x1 = await t.connect('userA', 'device-y');
    await registerApns(x1, token);
    await x1.terminate();
    const x2 = await TestClient.connect(t.url);
    await x2.login(t.token('userB'), 'device-y', 'ios');
    await t.server.ctx.push.service.settled();
    const alice = await t.connect('alice');
    const forA = await alice.sendText({ user: 'userA' }, 'for A', 'a1');
    assert.deepEqual(await pushOutcomes(t, forA, 'userA'), ['suppressed:no_binding'], 'A was unbound automatically');
    // B's app registers the token it holds; it moves from A's (inactive) binding to B's.
    await registerApns(x2, token);
    await x2.close();
    await t.server.ctx.push.service.settled();
    await alice.sendText({ user: 'userA' }, 'for A again', 'a2');
    await alice.sendText({ user: 'userB' }, 'for B', 'b1');
    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, token), 1);
    assert.equal((push!.payload as { receiver: string }).receiver, 'userB');
    await sleep(300);
    assert.equal(apnsTo(env.apnsDev, token).length, 1, 'nothing for A ever reached the device');
  } finally {
    await t.stop();
  }
});

test('push-token safety: a user cannot register a token that is active for another user', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = apnsToken(0x7ef);
    const victim = await t.connect('victim', 'victim-phone');
    await registerApns(victim, token);
    const thief = await t.connect('thief', 'thief-phone');
    const refused = await thief.request({ type: 'push_register', provider: 'apns', token, credential: 'ios', environment: 'development' });
    assert.equal(refused.type === 'error' && refused.code, 'forbidden');
    // Two users with the same client-chosen device id never share a binding.
    const samename = await t.connect('other', 'victim-phone');
    const own = await registerApns(samename, apnsToken(0x7f0));
    const victimAgain = await t.connect('victim', 'victim-phone');
    const victimReg = await registerApns(victimAgain, token);
    assert.notEqual(own.pushId, victimReg.pushId);
  } finally {
    await t.stop();
  }
});

test('DEV-5: after unregister nothing is pushed to the device, while it stays logged in elsewhere', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = apnsToken(0x0e9);
    const bob = await t.connect('bob', 'bob-ipad');
    await registerApns(bob, token);
    await bob.expect({ type: 'push_unregister' }, 'ok');
    const again = await bob.request({ type: 'push_unregister' });
    assert.equal(again.type === 'error' && again.code, 'push_not_registered');
    await bob.close();
    const alice = await t.connect('alice');
    const hello = await alice.sendText({ user: 'bob' }, 'hello?', 'c1');
    assert.deepEqual(await pushOutcomes(t, hello, 'bob'), ['suppressed:no_binding']);
    assert.equal(apnsTo(env.apnsDev, token).length, 0);
  } finally {
    await t.stop();
  }
});

test('DEV-6: a device kicked by the single-device policy gets no push', async () => {
  const t = await startTestServer({ push: pushTestConfig(env), sessions: { ios: 'single' } });
  try {
    const oldToken = apnsToken(0x01d);
    const newToken = apnsToken(0x7e3);
    const oldPhone = await t.connect('bob', 'old-iphone');
    await registerApns(oldPhone, oldToken);
    const newPhone = await t.connect('bob', 'new-iphone');
    await registerApns(newPhone, newToken);
    await oldPhone.closed;
    await newPhone.close();
    await t.server.ctx.push.service.settled();
    const alice = await t.connect('alice');
    await alice.sendText({ user: 'bob' }, 'which phone?', 'c1');
    await waitForPushes(() => apnsTo(env.apnsDev, newToken), 1);
    await sleep(300);
    assert.equal(apnsTo(env.apnsDev, oldToken).length, 0, 'the kicked phone is silent');
  } finally {
    await t.stop();
  }
});

test('DEV-3: unknown or over-long credential names and malformed tokens are refused at registration', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const bob = await t.connect('bob');
    const unknown = await bob.request({ type: 'push_register', provider: 'apns', token: apnsToken(1), credential: 'nope' });
    assert.equal(unknown.type === 'error' && unknown.code, 'push_credential_unknown');
    const long = await bob.request({ type: 'push_register', provider: 'apns', token: apnsToken(1), credential: 'x'.repeat(33) });
    assert.equal(long.type === 'error' && long.code, 'push_credential_unknown');
    const badToken = await bob.request({ type: 'push_register', provider: 'apns', token: 'not-hex!', credential: 'ios' });
    assert.equal(badToken.type === 'error' && badToken.code, 'push_token_invalid');
    const ok = await registerApns(bob, apnsToken(1));
    const okAgain = await registerApns(bob, apnsToken(2));
    assert.equal(ok.pushId, okAgain.pushId, 'the PushID is stable for a device+provider across token refreshes');
  } finally {
    await t.stop();
  }
});
