import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, TEST_DIALECT } from '../helpers/dialects.ts';

test(`an acked cursor is visible to readers before it rides a commit to the database (${TEST_DIALECT})`, async () => {
  const database = await createTestDatabase(TEST_DIALECT);
  const store = await database.open({ maxGroupMembers: 100, maxBatch: 100, cursorFlushMs: 60_000 });
  try {
    for (const n of [1, 2, 3]) {
      await store.log.append({ kind: 'message', sender: 'alice', peer: 'bob', conversation: 'p:alice:bob', clientMsgId: `c${n}`, data: { text: `m${n}` } });
    }
    store.cursors.saveAckedSeq('bob', 'bob-phone', 2);
    // The push dispatcher asks this before sending: an older value would push an acked message.
    assert.equal(await store.cursors.ackedSeq('bob', 'bob-phone'), 2);
    const stored = await store.db.selectFrom('device_cursors').select('acked_seq').where('user_id', '=', 'bob').executeTakeFirst();
    assert.equal(stored, undefined, 'not in the database yet (flushed with the next commit)');
    await store.log.append({ kind: 'message', sender: 'alice', peer: 'bob', conversation: 'p:alice:bob', clientMsgId: 'c4', data: { text: 'm4' } });
    const after = await store.db.selectFrom('device_cursors').select('acked_seq').where('user_id', '=', 'bob').executeTakeFirst();
    assert.equal(after?.acked_seq, 2, 'committed with the next append');
    assert.equal(await store.cursors.ackedSeq('bob', 'bob-phone'), 2);
  } finally {
    await store.close();
    await database.drop();
  }
});

test(`ackedSeqSaved resolves once the device's newest ack is in the database, with no event to ride along (${TEST_DIALECT})`, async () => {
  const database = await createTestDatabase(TEST_DIALECT);
  const store = await database.open({ maxGroupMembers: 100, maxBatch: 100, cursorFlushMs: 60_000 });
  try {
    await store.cursors.ackedSeqSaved('bob', 'bob-phone');
    for (const n of [1, 2]) {
      await store.log.append({ kind: 'message', sender: 'alice', peer: 'bob', conversation: 'p:alice:bob', clientMsgId: `c${n}`, data: { text: `m${n}` } });
    }
    store.cursors.saveAckedSeq('bob', 'bob-phone', 1);
    store.cursors.saveAckedSeq('bob', 'bob-phone', 2);
    store.cursors.saveAckedSeq('bob', 'bob-tablet', 1);
    // The session registry waits for this before it removes the device from the presence
    // directory: another node then finds the ack in the database (MSG-4).
    await store.cursors.ackedSeqSaved('bob', 'bob-phone');
    const rows = await store.db.selectFrom('device_cursors').select(['device_id', 'acked_seq']).where('user_id', '=', 'bob').orderBy('device_id').execute();
    assert.deepEqual(rows.find((r) => r.device_id === 'bob-phone')?.acked_seq, 2, 'the newest ack, without waiting for cursorFlushMs');
  } finally {
    await store.close();
    await database.drop();
  }
});
