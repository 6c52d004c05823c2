/**
 * LOG-1 on PostgreSQL: what writer-failure.test.ts proves for SQLite's writer. A batch the database
 * refuses (a real trigger, not a stand-in for our code) rolls back whole, including the user_heads
 * it raised; the batch planned on it behind it fails too; the log carries on with dense seqs.
 * Event ids come from a sequence, which a rollback does not give back: they keep increasing, with
 * a gap where the failed batch drew its ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from 'kysely';
import { ProtocolError } from '../../protocol/index.ts';
import type { EventDraft, Store } from '../../storage/index.ts';
import { TEST_DIALECT, TEST_DIALECTS, withTestStore } from '../helpers/dialects.ts';

const skip = TEST_DIALECTS.includes('postgres') || TEST_DIALECT === 'postgres' ? false : 'PostgreSQL is not among TIDINGS_TEST_DIALECTS';

const message = (sender: string, peer: string, clientMsgId: string, text: string): EventDraft => ({
  kind: 'message', sender, peer, conversation: `p:${[sender, peer].sort().join(':')}`, clientMsgId, data: { text },
});

const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

async function eventually(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.ok(condition(), 'condition not reached');
}

async function headsMatchInbox(store: Store): Promise<void> {
  const { rows } = await sql<{ user_id: string }>`SELECT h.user_id FROM user_heads h
    LEFT JOIN (SELECT user_id, max(seq) AS top FROM inbox GROUP BY user_id) i ON i.user_id = h.user_id
    WHERE h.head IS DISTINCT FROM coalesce(i.top, 0)`.execute(store.db);
  assert.deepEqual(rows, [], 'every user_heads row equals the newest seq of its inbox');
}

for (const writer of ['thread', 'inline'] as const) {
  test(`LOG-1 (postgres, ${writer} writer): a batch PostgreSQL rejects rolls back whole, the batch planned on it fails too, and seqs carry on without gaps`, { skip }, async () => {
    await withTestStore('postgres', async ({ store, database }) => {
      const warm = await store.log.append(message('alice', 'bob', 'warm-up', 'hello'));
      await sql`CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$`.execute(store.db);
      await sql`CREATE TRIGGER refuse_boom BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.json LIKE '%boom%') EXECUTE FUNCTION refuse_boom()`.execute(store.db);

      // Another connection blocks inserts into events, so the refused batch stays in flight while a
      // group creation is planned on top of it (the second batch, queued behind it in the writer).
      const lock = new pg.Client({ connectionString: (database.config as { url: string }).url });
      await lock.connect();
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE');
      const first = [
        settle(store.log.append(message('alice', 'bob', 'c-boom', 'boom'))),
        settle(store.log.append(message('bob', 'alice', 'c-same-batch', 'fine on its own'))),
      ];
      await eventually(() => store.log.queueDepth === 0);
      const planned = settle(store.log.append({ kind: 'group_created', sender: 'alice', groupId: 'g1', name: 'one', members: ['bob'] }));
      await eventually(() => store.log.queueDepth === 0);
      await lock.query('ROLLBACK');
      await lock.end();
      const outcomes = await Promise.all([...first, planned]);
      for (const outcome of outcomes) {
        assert.equal(outcome.ok, false);
        assert.ok(!outcome.ok && outcome.error instanceof ProtocolError && outcome.error.code === 'internal');
      }

      const events = await store.db.selectFrom('events').select(['id', 'client_msg_id']).orderBy('id').execute();
      assert.deepEqual(events.map((e) => e.client_msg_id), ['warm-up']);
      assert.equal(store.readModels.isGroup('g1'), false);
      await headsMatchInbox(store);

      const next = await store.log.append(message('bob', 'alice', 'c-after', 'after'));
      assert.ok(next.event.eventId > warm.event.eventId, 'ids keep increasing (the sequence does not roll back)');
      assert.equal(next.seqs.get('alice'), 2);
      assert.equal(next.seqs.get('bob'), 2);
      assert.equal(store.log.lastEventId(), next.event.eventId);
      const group = await store.log.append({ kind: 'group_created', sender: 'alice', groupId: 'g1', name: 'one', members: ['bob'] });
      assert.equal(group.seqs.get('bob'), 3);
      assert.deepEqual((await store.log.readInbox('bob', 0, 10)).map((e) => e.seq), [1, 2, 3]);
      await headsMatchInbox(store);
    }, { writer });
  });
}

test('LOG-1 (postgres): appends made together commit in order, with one dense seq per recipient', { skip }, async () => {
  await withTestStore('postgres', async ({ store }) => {
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => store.log.append(message(i % 2 ? 'alice' : 'bob', i % 2 ? 'bob' : 'alice', `m${i}`, `t${i}`))));
    assert.deepEqual(results.map((r) => r.event.eventId), results.map((_, i) => i + 1));
    assert.deepEqual(results.map((r) => r.seqs.get('alice')), results.map((_, i) => i + 1));
    const inbox = await store.log.readInbox('bob', 0, 1000);
    assert.deepEqual(inbox.map((e) => e.event.eventId), results.map((r) => r.event.eventId));
    await headsMatchInbox(store);
  });
});
