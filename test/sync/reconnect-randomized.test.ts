import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { seededRandom } from '../helpers/random.ts';
import { sleep, startTestServer } from '../helpers/server.ts';

/**
 * SYNC-2: a device that reconnects with its cursor gets everything after it, in order, with no
 * gap and no duplicate at the seam, whatever moment the previous connection died at. Senders
 * keep writing while the receiver connects, pages, goes live and drops, over many interleavings.
 */
for (const seed of [1, 7, 42, 1234]) {
  test(`reconnect mid-stream delivers every event exactly once, in order (seed ${seed})`, async () => {
    const random = seededRandom(seed);
    const t = await startTestServer({ limits: { syncPageSize: 7, framesPerSecond: 10000, frameBurst: 10000 } });
    try {
      const alice = await t.connect('alice', 'a');
      const carol = await t.connect('carol', 'c');
      await carol.expect({ type: 'group_create', groupId: 'g', name: 'g', members: ['bob'] }, 'group_created');
      const total = 240;
      let sent = 0;
      const sender = (async () => {
        while (sent < total) {
          const batch = 1 + Math.floor(random() * 5);
          const sends: Promise<unknown>[] = [];
          for (let i = 0; i < batch && sent < total; i++, sent++) {
            sends.push(random() < 0.5
              ? alice.sendText({ user: 'bob' }, `p${sent}`, `p${sent}`)
              : carol.sendText({ group: 'g' }, `g${sent}`, `g${sent}`));
          }
          await Promise.all(sends);
          await sleep(Math.floor(random() * 4));
        }
      })();

      const expectedEvents = total + 1; // the group_created event is in bob's inbox too
      let cursor = 0;
      const seen = new Set<string>();
      let connections = 0;
      while (cursor < expectedEvents) {
        connections += 1;
        const bob = await TestClient.connect(t.url);
        await bob.login(t.token('bob'), 'bob-phone', 'android');
        const after = cursor;
        bob.send({ type: 'sync', after });
        const lifetime = Math.floor(random() * 25);
        await sleep(lifetime);
        if (random() < 0.5) bob.socket.terminate();
        else bob.socket.close();
        await bob.closed;
        // Every frame this connection received: contiguous from after+1, no repeats.
        let expected = after + 1;
        for (const event of bob.events) {
          assert.equal(event.seq, expected, `seed ${seed}: connection ${connections} got seq ${event.seq}, expected ${expected}`);
          const id = String(event.eventId);
          assert.ok(!seen.has(id), `duplicate event ${id}`);
          seen.add(id);
          expected += 1;
        }
        cursor = expected - 1;
        if (connections > 2000) assert.fail('did not converge');
        if (sent >= total && cursor < expectedEvents) await sleep(1);
      }
      await sender;
      assert.equal(cursor, expectedEvents);
      assert.equal(seen.size, expectedEvents);
      assert.ok(connections > 5, 'the test exercised several reconnects');
    } finally {
      await t.stop();
    }
  });
}
