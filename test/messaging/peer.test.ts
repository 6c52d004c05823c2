import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.ts';

test('MSG to an online user arrives live after the sender gets send_ack (LOG-1)', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    await alice.sync();
    await bob.sync();
    const ack = await alice.sendText({ user: 'bob' }, 'hello bob', 'a-1');
    assert.equal(ack.type, 'send_ack');
    if (ack.type !== 'send_ack') return;
    assert.equal(ack.conversation, 'p:alice:bob');
    assert.equal(ack.duplicate, false);
    const event = (await bob.waitForEvents(1))[0]!;
    assert.equal(event.kind, 'message');
    if (event.kind !== 'message') return;
    assert.equal(event.from, 'alice');
    assert.equal(event.messageId, ack.messageId);
    assert.equal(event.eventId, ack.eventId);
    assert.deepEqual(event.content, { type: 'text', text: 'hello bob' });
    // The sender's own devices see the message in their stream too (multi-device sync).
    const [own] = await alice.waitForEvents(1);
    assert.equal(own!.seq, ack.seq);
    assert.deepEqual([...alice.invalid, ...bob.invalid], []);
  } finally {
    await t.stop();
  }
});

test('MSG to an offline user is stored and arrives on login via resync (SYNC-2)', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    for (let i = 1; i <= 5; i++) assert.equal((await alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`)).type, 'send_ack');
    const bob = await t.connect('bob');
    const done = await bob.sync();
    assert.equal(done.headSeq, 5);
    assert.deepEqual(bob.events.map((e) => e.kind === 'message' && e.content.type === 'text' ? e.content.text : ''), ['m1', 'm2', 'm3', 'm4', 'm5']);
    assert.deepEqual(bob.events.map((e) => e.seq), [1, 2, 3, 4, 5]);
    // After the sync, delivery is live.
    await alice.sendText({ user: 'bob' }, 'live', 'c6');
    await bob.waitForEvents(6);
    assert.equal(bob.events[5]!.seq, 6);
  } finally {
    await t.stop();
  }
});

test('LOG-2: resending the same client message id returns the original ack and stores once', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    await bob.sync();
    const first = await alice.sendText({ user: 'bob' }, 'once', 'same-id');
    const again = await alice.sendText({ user: 'bob' }, 'once', 'same-id');
    // Two resends racing inside one commit batch are also collapsed.
    const [x, y] = await Promise.all([alice.sendText({ user: 'bob' }, 'twice', 'race-id'), alice.sendText({ user: 'bob' }, 'twice', 'race-id')]);
    assert.ok(first.type === 'send_ack' && again.type === 'send_ack' && x.type === 'send_ack' && y.type === 'send_ack');
    if (first.type !== 'send_ack' || again.type !== 'send_ack' || x.type !== 'send_ack' || y.type !== 'send_ack') return;
    assert.equal(again.duplicate, true);
    assert.equal(again.messageId, first.messageId);
    assert.equal(again.seq, first.seq);
    assert.equal(x.messageId, y.messageId);
    assert.deepEqual([x.duplicate, y.duplicate].sort(), [false, true]);
    await bob.waitForEvents(2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(bob.events.length, 2, 'bob got each message once');
    const rows = await t.server.ctx.store.db.selectFrom('events').select('id').where('kind', '=', 'message').execute();
    assert.equal(rows.length, 2);
    // Reusing an id for a different message is a client bug, refused rather than silently merged.
    const conflict = await alice.sendText({ user: 'bob' }, 'something else', 'same-id');
    assert.equal(conflict.type === 'error' && conflict.code, 'idempotency_conflict');
    // Another user may reuse the same client id: ids are per sender.
    const carol = await t.connect('carol');
    const carolAck = await carol.sendText({ user: 'bob' }, 'mine', 'same-id');
    assert.ok(carolAck.type === 'send_ack' && !carolAck.duplicate);
  } finally {
    await t.stop();
  }
});

test('LIM-1: message content over maxMessageBytes is refused with message_too_large', async () => {
  const t = await startTestServer({ limits: { maxMessageBytes: 100 } });
  try {
    const alice = await t.connect('alice');
    const reply = await alice.sendText({ user: 'bob' }, 'x'.repeat(200), 'big');
    assert.equal(reply.type === 'error' && reply.code, 'message_too_large');
  } finally {
    await t.stop();
  }
});
