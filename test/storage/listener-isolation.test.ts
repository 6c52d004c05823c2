import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.ts';

const metric = async (t: Awaited<ReturnType<typeof startTestServer>>, name: string): Promise<number> => {
  const text = await (await fetch(`${t.httpUrl}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((sum, m) => sum + Number(m[2]), 0);
};

test('LOG-1: a commit listener that throws is logged and counted, and every append of its batch is still answered', async () => {
  const t = await startTestServer();
  try {
    let thrown = 0;
    t.server.ctx.store.log.onCommitted('broken-test-listener', () => {
      thrown += 1;
      throw new Error('listener bug');
    });
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    await bob.sync();
    // Several sends in flight at once, so at least one batch carries more than one append.
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`)));
    for (const ack of acks) assert.equal(ack.type, 'send_ack', `every append is answered: ${JSON.stringify(ack)}`);
    assert.ok(thrown > 0, 'the listener ran (and threw)');
    // The listeners registered before it (delivery through the broker) and after it still ran.
    await bob.waitForEvents(20);
    assert.equal(await metric(t, 'tidings_listener_errors_total'), thrown);
  } finally {
    await t.stop();
  }
});

test('a domain-event listener that throws does not keep a device from logging in or going offline', async () => {
  const t = await startTestServer();
  try {
    t.server.ctx.events.on('device_online', 'broken-test-listener', () => {
      throw new Error('listener bug');
    });
    const offline: string[] = [];
    t.server.ctx.events.on('device_offline', 'test', (e) => offline.push(e.deviceId));
    const alice = await t.connect('alice', 'alice-phone');
    await alice.close();
    for (let i = 0; i < 100 && offline.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(offline, ['alice-phone']);
    assert.equal(await metric(t, 'tidings_listener_errors_total'), 1);
  } finally {
    await t.stop();
  }
});
