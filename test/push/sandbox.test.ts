import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apnsToken, registerApns } from '../helpers/push-env.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

test('with no vendor credentials pushes go to the sandbox, listed on GET /admin/pushes behind the admin secret', async () => {
  const t = await startTestServer();
  try {
    const bob = await t.connect('bob', 'bob-iphone');
    // In sandbox mode any well-formed credential name is accepted.
    await registerApns(bob, apnsToken(0x5b));
    await bob.close();
    const alice = await t.connect('alice');
    await alice.sendText({ user: 'bob' }, 'hello sandbox', 'c1');
    const pushes = await eventually(async () => {
      const body = await (await t.admin('/admin/pushes')).json() as { pushes: Array<{ target: { token: string }; payload: { vendor: string; payload: { aps: { alert: { body: string } }; receiver: string } } }> };
      return body.pushes.length > 0 && body.pushes;
    }, 3000, 'sandbox record');
    assert.equal(pushes[0]!.target.token, apnsToken(0x5b));
    assert.equal(pushes[0]!.payload.vendor, 'apns');
    assert.equal(pushes[0]!.payload.payload.receiver, 'bob');
    assert.equal(pushes[0]!.payload.payload.aps.alert.body, 'You have a new message', 'the privacy-default banner');
    const anonymous = await fetch(`${t.httpUrl}/admin/pushes`);
    assert.equal(anonymous.status, 401);
    const wrong = await fetch(`${t.httpUrl}/admin/pushes`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
  } finally {
    await t.stop();
  }
});

test('the admin API is off when no admin secret is configured', async () => {
  const t = await startTestServer({ admin: { secret: undefined } as never });
  try {
    const res = await fetch(`${t.httpUrl}/admin/pushes`, { headers: { authorization: 'Bearer anything' } });
    assert.equal(res.status, 404);
    assert.equal((await fetch(`${t.httpUrl}/healthz`)).status, 200);
    assert.match(await (await fetch(`${t.httpUrl}/metrics`)).text(), /tidings_connections/);
  } finally {
    await t.stop();
  }
});
