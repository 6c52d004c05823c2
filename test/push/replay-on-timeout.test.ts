import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apnsTo, apnsToken, pushTestConfig, registerApns, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { sleep, startTestServer } from '../helpers/server.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

test('MSG-4: a half-open device gets exactly its un-acked events pushed once the heartbeat deadline passes', async () => {
  const t = await startTestServer({ push: pushTestConfig(env), heartbeat: { intervalMs: 50, timeoutMs: 400 } });
  try {
    const token = apnsToken(0x4a1f);
    const bob = await t.connect('bob', 'bob-iphone');
    await registerApns(bob, token);
    await bob.sync();
    const alice = await t.connect('alice');
    const beat = setInterval(() => alice.send({ type: 'ping' }), 50);
    try {
      for (let i = 1; i <= 4; i++) await alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`);
      const events = await bob.waitForEvents(4);
      // Bob's app read the first message and acked it, then froze: socket open, no more frames.
      bob.send({ type: 'ack', seq: events[0]!.seq });
      await sleep(100);
      assert.equal(apnsTo(env.apnsDev, token).length, 0, 'nothing is pushed while the device is online');
      const pushes = await waitForPushes(() => apnsTo(env.apnsDev, token), 3, 4000);
      const bodies = pushes.map((p) => (p.payload as { messageId: string }).messageId);
      const expected = events.slice(1).map((e) => (e.kind === 'message' ? e.messageId : ''));
      assert.deepEqual(bodies.sort(), expected.sort(), 'exactly the three un-acked messages');
      // A later message while bob stays offline is pushed as it is appended; nothing is pushed twice.
      await alice.sendText({ user: 'bob' }, 'm5', 'c5');
      await waitForPushes(() => apnsTo(env.apnsDev, token), 4);
      await sleep(300);
      assert.equal(apnsTo(env.apnsDev, token).length, 4);
      assert.equal(new Set(apnsTo(env.apnsDev, token).map((p) => p.apnsId)).size, 4, 'distinct apns-id per (device, event)');
    } finally {
      clearInterval(beat);
    }
  } finally {
    await t.stop();
  }
});
