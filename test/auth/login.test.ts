import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mintToken } from '../../server/auth/tokens.ts';
import { TestClient } from '../helpers/client.ts';
import { startTestServer, TEST_SECRET } from '../helpers/server.ts';

test('AUTH-1: a token signed with the app secret logs in; forged and expired ones are refused', async () => {
  const t = await startTestServer();
  try {
    const good = await TestClient.connect(t.url);
    const ok = await good.login(t.token('alice'), 'alice-phone', 'ios');
    assert.equal(ok.userId, 'alice');
    assert.equal(ok.deviceId, 'alice-phone');

    const forged = await TestClient.connect(t.url);
    const forgedReply = await forged.request({ type: 'login', token: mintToken('not-the-secret-at-all!!', 'alice', 60), deviceId: 'x', platform: 'web' });
    assert.equal(forgedReply.type === 'error' && forgedReply.code, 'token_invalid');

    const tampered = t.token('alice').replace(/\.([^.]+)\./, (_m, body: string) => `.${Buffer.from(JSON.stringify({ sub: 'mallory', iat: 1, exp: 9e9 })).toString('base64url')}.`);
    const tamperedReply = await forged.request({ type: 'login', token: tampered, deviceId: 'x', platform: 'web' });
    assert.equal(tamperedReply.type === 'error' && tamperedReply.code, 'token_invalid');

    const expired = mintToken(TEST_SECRET, 'alice', 10, Date.now() - 3600_000);
    const expiredReply = await forged.request({ type: 'login', token: expired, deviceId: 'x', platform: 'web' });
    assert.equal(expiredReply.type === 'error' && expiredReply.code, 'token_expired');

    const garbage = await forged.request({ type: 'login', token: 'hello', deviceId: 'x', platform: 'web' });
    assert.equal(garbage.type === 'error' && garbage.code, 'token_invalid');
    assert.deepEqual([...good.invalid, ...forged.invalid], []);
  } finally {
    await t.stop();
  }
});

test('AUTH-1: nothing but login and ping is accepted before login', async () => {
  const t = await startTestServer();
  try {
    const c = await TestClient.connect(t.url);
    c.send({ type: 'ping', t: 42 });
    assert.equal((await c.next('pong')).t, 42);
    const reply = await c.request({ type: 'send', clientMsgId: 'm1', to: { user: 'bob' }, content: { type: 'text', text: 'hi' } });
    assert.equal(reply.type === 'error' && reply.code, 'not_logged_in');
    const sync = await c.request({ type: 'sync' });
    assert.equal(sync.type === 'error' && sync.code, 'not_logged_in');
  } finally {
    await t.stop();
  }
});

test('AUTH-2: with the single-device policy a second iOS login kicks the first; other platforms stay', async () => {
  const t = await startTestServer({ sessions: { ios: 'single' } });
  try {
    const offline: string[] = [];
    t.server.ctx.events.on('device_offline', 'test', (e) => offline.push(`${e.deviceId}:${e.reason}`));
    const first = await t.connect('alice', 'old-iphone', 'ios');
    const web = await t.connect('alice', 'browser', 'web');
    const second = await t.connect('alice', 'new-iphone', 'ios');
    const kicked = await first.next('kicked');
    assert.equal(kicked.reason, 'single_device_policy');
    assert.equal(kicked.byDeviceId, 'new-iphone');
    assert.equal(await first.closed, 4001);
    assert.deepEqual(offline, ['old-iphone:kicked']);
    // The survivors still work.
    await second.sync();
    await web.sync();
    await second.sendText({ user: 'bob' }, 'hi', 'c1');
    assert.equal((await web.waitForEvents(1))[0]!.kind, 'message');
  } finally {
    await t.stop();
  }
});

test('AUTH-2: several devices per user by default; the same device reconnecting replaces its old socket', async () => {
  const t = await startTestServer();
  try {
    const phone = await t.connect('alice', 'phone', 'ios');
    const tablet = await t.connect('alice', 'tablet', 'ios');
    assert.equal(t.server.ctx.hub.sessionsOf('alice').length, 2);
    const phoneAgain = await t.connect('alice', 'phone', 'ios');
    assert.equal(await phone.closed, 4006);
    assert.equal(t.server.ctx.hub.sessionsOf('alice').length, 2);
    await phoneAgain.sync();
    await tablet.sync();
  } finally {
    await t.stop();
  }
});
