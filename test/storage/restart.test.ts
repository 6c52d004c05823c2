import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.ts';

test('LOG-1/LIM-2: a restart loses no acked message; the offline reader gets them all after it', async () => {
  const t = await startTestServer({ storage: { synchronous: 'FULL' } });
  try {
    const alice = await t.connect('alice');
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`)));
    assert.ok(acks.every((a) => a.type === 'send_ack'));
    const reconnect = alice.next('reconnect');
    await t.restart();
    assert.equal((await reconnect).reason, 'server_shutdown');
    const bob = await t.connect('bob');
    await bob.sync();
    const ackedIds = acks.map((a) => (a.type === 'send_ack' ? a.messageId : ''));
    assert.deepEqual(bob.events.map((e) => (e.kind === 'message' ? e.messageId : '')), ackedIds.sort((x, y) => {
      const ex = acks.find((a) => a.type === 'send_ack' && a.messageId === x)!, ey = acks.find((a) => a.type === 'send_ack' && a.messageId === y)!;
      return (ex.type === 'send_ack' ? ex.eventId : 0) - (ey.type === 'send_ack' ? ey.eventId : 0);
    }));
    // Idempotency survives the restart too.
    const alice2 = await t.connect('alice');
    const again = await alice2.sendText({ user: 'bob' }, 'm0', 'c0');
    assert.ok(again.type === 'send_ack' && again.duplicate);
  } finally {
    await t.stop();
  }
});
