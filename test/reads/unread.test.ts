import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.ts';

test('SYNC-4: read receipts move the read cursor, lower unread counts and reach the peer and my other devices', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    const bobPhone = await t.connect('bob', 'phone');
    const bobLaptop = await t.connect('bob', 'laptop', 'desktop');
    await Promise.all([alice.sync(), bobPhone.sync(), bobLaptop.sync()]);
    await alice.expect({ type: 'group_create', groupId: 'g', name: 'g', members: ['bob'] }, 'group_created');
    const peerAcks = [];
    for (let i = 0; i < 3; i++) peerAcks.push(await alice.sendText({ user: 'bob' }, `p${i}`, `p${i}`));
    for (let i = 0; i < 2; i++) await alice.sendText({ group: 'g' }, `g${i}`, `g${i}`);
    const counts = await bobPhone.expect({ type: 'unread' }, 'unread_counts');
    assert.deepEqual(counts.conversations, { 'g:g': 2, 'p:alice:bob': 3 });
    assert.equal(counts.total, 5);
    // Alice's own messages never count as unread for her.
    assert.equal((await alice.expect({ type: 'unread' }, 'unread_counts')).total, 0);

    const second = peerAcks[1]!;
    assert.equal(second.type, 'send_ack');
    const upTo = second.type === 'send_ack' ? second.eventId : 0;
    await bobPhone.expect({ type: 'read', conversation: 'p:alice:bob', upTo }, 'ok');
    const after = await bobLaptop.expect({ type: 'unread' }, 'unread_counts');
    assert.deepEqual(after.conversations, { 'g:g': 2, 'p:alice:bob': 1 });
    // The receipt reaches alice (the sender) and bob's other device.
    const receipt = await alice.waitForEvents(1).then(() => alice.waitFor(() => false, 50).catch(() => undefined))
      .then(() => alice.events.find((e) => e.kind === 'read'));
    assert.ok(receipt && receipt.kind === 'read' && receipt.upTo === upTo && receipt.from === 'bob');
    assert.ok(bobLaptop.events.some((e) => e.kind === 'read' && e.upTo === upTo));
    // A stale read (behind the cursor) changes nothing and appends nothing.
    const stale = await bobPhone.request({ type: 'read', conversation: 'p:alice:bob', upTo: 1 });
    assert.ok(stale.type === 'ok' && stale.eventId === undefined);
    // Reading someone else's conversation is refused.
    const mallory = await t.connect('mallory');
    const refused = await mallory.request({ type: 'read', conversation: 'p:alice:bob', upTo });
    assert.equal(refused.type === 'error' && refused.code, 'bad_conversation');
    const notMember = await mallory.request({ type: 'read', conversation: 'g:g', upTo });
    assert.equal(notMember.type === 'error' && notMember.code, 'not_group_member');
  } finally {
    await t.stop();
  }
});
