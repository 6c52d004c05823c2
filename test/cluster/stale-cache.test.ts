/**
 * A node's caches (a user's head seq, the newest event id, group membership) follow other nodes'
 * commits through broker publications, which may come late or never. A device that got seqs from
 * one node and moves to another must not be refused for claiming what that node has not heard of
 * yet: with every cross-node publication dropped (cluster.chaosDropRate 1), its sync cursor, its
 * ack and its read receipt are checked against the database, not the stale cache (SYNC-1, SYNC-4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveredEvent } from '../../protocol/index.ts';
import { sleep } from '../helpers/server.ts';
import { NEEDS_POSTGRES, startCluster } from './harness.ts';

const skip = NEEDS_POSTGRES;

test('SYNC-1/SYNC-4 across nodes: cursor, ack and read receipt for seqs another node delivered are accepted where the publication never arrived', { skip, timeout: 60_000 }, async () => {
  const cluster = await startCluster({ nodes: 2, cluster: { chaosDropRate: 1 } });
  try {
    // Node 2 learns bob's head (0) and caches it; every later publication to node 2 is dropped.
    const early = await cluster.connect(1, 's-bob', 's-bob-phone', 'android');
    await early.sync();
    await early.close();

    const alice = await cluster.connect(0, 's-alice', 's-alice-web', 'web');
    await alice.expect({ type: 'group_create', groupId: 'stale', name: 'Stale', members: ['s-bob'] }, 'group_created');
    const bob = await cluster.connect(0, 's-bob', 's-bob-phone', 'android');
    await bob.sync();
    for (let i = 0; i < 3; i++) assert.equal((await alice.sendText({ group: 'stale' }, `g ${i}`, `s-g-${i}`)).type, 'send_ack');
    await bob.waitForEvents(4);
    const cursor = bob.events[bob.events.length - 1]!.seq;
    const lastMessage = bob.events[bob.events.length - 1] as Extract<DeliveredEvent, { kind: 'message' }>;
    await bob.close();

    // The same phone on node 2, which still believes bob's head is 0.
    const moved = await cluster.connect(1, 's-bob', 's-bob-phone', 'android');
    const done = await moved.sync(cursor);
    assert.equal(done.headSeq, cursor, 'sync from the cursor node 1 gave it: accepted, nothing to resend');
    assert.deepEqual(moved.events, [], 'nothing again');
    moved.send({ type: 'ack', seq: cursor });
    const read = await moved.request({ type: 'read', conversation: 'g:stale', upTo: lastMessage.eventId });
    assert.equal(read.type, 'ok', `a read receipt for an event node 2 never observed: ${JSON.stringify(read)}`);
    await sleep(300);
    assert.deepEqual(moved.frames.filter((f) => f.type === 'error'), [], 'no bad_cursor, no not_group_member');

    // And a cursor beyond what the database has is still refused.
    const beyond = await moved.request({ type: 'sync', after: cursor + 100 });
    assert.equal(beyond.type === 'error' && beyond.code, 'bad_cursor');
    await Promise.all([alice.close(), moved.close()]);
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.output()}`);
  } finally {
    await cluster.stop();
  }
});
