import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { openSqliteDatabase, SQLITE, type OpenDatabase } from '../../storage/sqlite/sqlite-database.ts';
import { WriteGate } from '../../storage/sqlite/write-gate.ts';
import { WriteBatcher } from '../../storage/sqlite/write-batcher.ts';
import { SqlPushStore } from '../../storage/sql/push-store.ts';
import type { Database, TraceRow } from '../../storage/index.ts';
import { SQLITE_ONLY } from '../helpers/dialects.ts';

/** The push store as the SQLite store composes it beside the writer thread: writes batched behind the gate. */
function gatedPushStore(db: Kysely<Database>): SqlPushStore {
  const batcher = new WriteBatcher(db);
  return new SqlPushStore(db, SQLITE, (work) => batcher.run(work));
}

const row = (eventId: number, reason = 'test'): TraceRow => ({
  eventId, messageId: null, userId: 'alice', deviceId: 'alice-phone', pushId: null, decision: 'queued', reason,
});

/** A migrated database with a write gate, as the server thread has it beside the writer thread. */
async function withGatedDatabase(body: (opened: OpenDatabase, gate: WriteGate) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-gate-'));
  const gate = new WriteGate();
  const opened = await openSqliteDatabase({ dialect: 'sqlite', file: join(dir, 'tidings.db'), synchronous: 'NORMAL', cacheSizeMb: 8 }, gate);
  try {
    await body(opened, gate);
  } finally {
    await opened.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const state = <T>(p: Promise<T>) => {
  const s = { done: false };
  void p.then(() => { s.done = true; }, () => { s.done = true; });
  return s;
};
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

test('a read on the server thread does not wait behind a write that waits at the gate', { skip: SQLITE_ONLY }, async () => {
  await withGatedDatabase(async ({ db }, gate) => {
    const store = gatedPushStore(db);
    await store.trace([row(1)]);
    await gate.acquire(); // the writer thread's transaction, as far as the server thread can tell
    const write = store.trace([row(2)]);
    const writing = state(write);
    await tick();
    assert.equal(writing.done, false, 'the write waits for the gate');
    const rows = await db.selectFrom('push_trace').select('event_id').execute();
    assert.deepEqual(rows.map((r) => r.event_id), [1], 'the read answered at once, from committed data');
    gate.release();
    await write;
    assert.deepEqual((await db.selectFrom('push_trace').select('event_id').orderBy('event_id').execute()).map((r) => r.event_id), [1, 2]);
  });
});

test('writes queued behind the gate commit together, and one that fails is undone alone', { skip: SQLITE_ONLY }, async () => {
  await withGatedDatabase(async ({ db }, gate) => {
    const store = gatedPushStore(db);
    // A real SQLite refusal for one of the queued writes.
    await sql`CREATE TRIGGER refuse_trace BEFORE INSERT ON push_trace WHEN NEW.reason = 'refuse'
      BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`.execute(db);
    await gate.acquire();
    const outcomes = [store.trace([row(10)]), store.trace([row(11), row(12, 'refuse')]), store.trace([row(13)])]
      .map((p) => p.then(() => 'ok', (error: Error) => error.message));
    const all = state(Promise.all(outcomes));
    await tick();
    assert.equal(all.done, false, 'nothing is answered before its commit');
    gate.release();
    assert.deepEqual(await Promise.all(outcomes), ['ok', 'refused by test trigger', 'ok']);
    const stored = await db.selectFrom('push_trace').select('event_id').orderBy('event_id').execute();
    assert.deepEqual(stored.map((r) => r.event_id), [10, 13], 'the refused write left nothing, not even its first row');
  });
});

test('writes from separate callbacks of one event-loop turn share one commit, with the gate free', { skip: SQLITE_ONLY }, async () => {
  await withGatedDatabase(async ({ db }) => {
    const batcher = new WriteBatcher(db);
    const transactions: unknown[] = [];
    const write = (eventId: number) => batcher.run(async (trx) => {
      transactions.push(trx);
      await trx.insertInto('push_trace').values({ event_id: eventId, message_id: null, user_id: 'alice', device_id: 'alice-phone', push_id: null, decision: 'queued', reason: 'test', detail: null, at: Date.now() }).execute();
    });
    // Three immediates queued together run as three callbacks of one check phase, like three
    // vendor answers read in one poll phase; the batcher's own setImmediate runs in the next one.
    // (Three timers were not enough: each setTimeout reads the clock, so under load they could
    // fall due in different turns.)
    const writes = await new Promise<Array<Promise<void>>>((resolve) => {
      const started: Array<Promise<void>> = [];
      for (const eventId of [1, 2, 3]) setImmediate(() => { started.push(write(eventId)); if (started.length === 3) resolve(started); });
    });
    await Promise.all(writes);
    assert.equal(transactions.length, 3);
    assert.equal(new Set(transactions).size, 1, 'one transaction (one commit) for the three');
    assert.equal((await db.selectFrom('push_trace').select('event_id').execute()).length, 3);
  });
});
