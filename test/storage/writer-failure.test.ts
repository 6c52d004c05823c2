import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import SQLite from 'better-sqlite3';
import { openStore, type EventDraft, type Store } from '../../storage/index.ts';
import { ProtocolError } from '../../protocol/index.ts';
import { SQLITE_ONLY } from '../helpers/dialects.ts';

const message = (sender: string, peer: string, clientMsgId: string, text: string): EventDraft => ({
  kind: 'message', sender, peer, conversation: `p:${[sender, peer].sort().join(':')}`, clientMsgId, data: { text },
});

async function eventually(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.ok(condition(), 'condition not reached');
}

const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

async function withStore(writer: 'thread' | 'inline', body: (store: Store & { file: string }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-writer-'));
  const file = join(dir, 'tidings.db');
  const store = await openStore({ dialect: 'sqlite', file, synchronous: 'NORMAL', cacheSizeMb: 8 }, { maxGroupMembers: 1000, maxBatch: 1000, writer });
  try {
    await body({ ...store, file });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const writer of ['thread', 'inline'] as const) {
  test(`LOG-1 (${writer} writer): a batch SQLite rejects rolls back whole, batches planned on it fail too, and the log carries on without gaps`, { skip: SQLITE_ONLY }, async () => {
    await withStore(writer, async (store) => {
      await store.log.append(message('alice', 'bob', 'warm-up', 'hello'));
      // A real SQLite failure inside the writer's transaction, not a stand-in for our own code.
      await sql`CREATE TRIGGER refuse_boom BEFORE INSERT ON events WHEN NEW.json LIKE '%boom%'
        BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`.execute(store.db);

      // One batch with the refused event. On the thread writer, another connection holds the write
      // lock so that batch stays in flight while a group creation is planned on top of it (the
      // second batch in flight); inline, the group creation joins the same batch.
      const lock = writer === 'thread' ? new SQLite(store.file) : undefined;
      lock?.exec('BEGIN IMMEDIATE');
      // An ack that rides the refused batch is not lost with it: it rides the next one.
      store.cursors.saveAckedSeq('bob', 'bob-phone', 1);
      const first = [
        settle(store.log.append(message('alice', 'bob', 'c-boom', 'boom'))),
        settle(store.log.append(message('bob', 'alice', 'c-same-batch', 'fine on its own'))),
      ];
      if (lock) await eventually(() => store.log.queueDepth === 0);
      const planned = settle(store.log.append({ kind: 'group_created', sender: 'alice', groupId: 'g1', name: 'one', members: ['bob'] }));
      if (lock) {
        await eventually(() => store.log.queueDepth === 0);
        lock.exec('ROLLBACK');
        lock.close();
      }
      const outcomes = await Promise.all([...first, planned]);
      for (const outcome of outcomes) {
        assert.equal(outcome.ok, false);
        assert.ok(!outcome.ok && outcome.error instanceof ProtocolError && outcome.error.code === 'internal');
      }

      // Nothing of the failed batches was stored, and the in-memory state forgot them too.
      const events = await store.db.selectFrom('events').select(['id', 'client_msg_id']).orderBy('id').execute();
      assert.deepEqual(events.map((e) => e.client_msg_id), ['warm-up']);
      assert.equal(store.readModels.isGroup('g1'), false);
      const toGroup = await settle(store.log.append({ kind: 'message', sender: 'alice', group: 'g1', conversation: 'g:g1', clientMsgId: 'c-g', data: { text: 'x' } }));
      assert.ok(!toGroup.ok && toGroup.error instanceof ProtocolError && toGroup.error.code === 'group_not_found');

      // The log carries on: next ids and seqs follow the last committed ones, no gaps.
      const next = await store.log.append(message('bob', 'alice', 'c-after', 'after'));
      assert.equal(next.event.eventId, events[0]!.id + 1);
      assert.equal(next.seqs.get('alice'), 2);
      assert.equal(next.seqs.get('bob'), 2);
      assert.equal(store.log.lastEventId(), next.event.eventId);
      const cursor = await store.db.selectFrom('device_cursors').select('acked_seq').where('device_id', '=', 'bob-phone').executeTakeFirst();
      assert.equal(cursor?.acked_seq, 1, 'the ack of the refused batch committed with the next one');
      const group = await store.log.append({ kind: 'group_created', sender: 'alice', groupId: 'g1', name: 'one', members: ['bob'] });
      assert.equal(group.seqs.get('bob'), 3);
      assert.deepEqual((await store.log.readInbox('bob', 0, 10)).map((e) => e.seq), [1, 2, 3]);
    });
  });
}

test('LOG-1: appends made together commit together in order, with one dense seq per recipient', { skip: SQLITE_ONLY }, async () => {
  await withStore('thread', async (store) => {
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => store.log.append(message(i % 2 ? 'alice' : 'bob', i % 2 ? 'bob' : 'alice', `m${i}`, `t${i}`))));
    assert.deepEqual(results.map((r) => r.event.eventId), results.map((_, i) => i + 1));
    assert.deepEqual(results.map((r) => r.seqs.get('alice')), results.map((_, i) => i + 1));
    const inbox = await store.log.readInbox('bob', 0, 1000);
    assert.deepEqual(inbox.map((e) => e.event.eventId), results.map((r) => r.event.eventId));
  });
});
