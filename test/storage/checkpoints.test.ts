import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, type Store, type TraceRow } from '../../storage/index.ts';
import { SQLITE_ONLY } from '../helpers/dialects.ts';

/*
 * Beside the writer thread, a WAL checkpoint never runs on the event loop: the server thread's
 * connections do not checkpoint, and the writer thread checkpoints for both, also when only the
 * server thread has been writing (push outbox, trace).
 */

async function withThreadedStore(body: (store: Store, file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-checkpoint-'));
  const file = join(dir, 'tidings.db');
  const store = await openStore({ dialect: 'sqlite', file, synchronous: 'NORMAL', cacheSizeMb: 8 }, { maxGroupMembers: 100, maxBatch: 100, writer: 'thread' });
  try {
    await body(store, file);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const traceRows = (from: number, n: number): TraceRow[] => Array.from({ length: n }, (_, i) => ({
  eventId: from + i, messageId: null, userId: `user-${i % 97}`, deviceId: 'phone', pushId: null, decision: 'queued', reason: 'x'.repeat(200),
}));

test('the server thread\'s connection never checkpoints beside a writer thread', { skip: SQLITE_ONLY }, async () => {
  await withThreadedStore(async (store) => {
    const { rows } = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(store.db);
    assert.equal(Number(rows[0]?.wal_autocheckpoint), 0);
  });
});

test('what only the server thread wrote reaches the database file through the writer thread\'s idle checkpoint', { skip: SQLITE_ONLY }, async () => {
  await withThreadedStore(async (store, file) => {
    // Settle the migrations' pages first, so the file's size below moves only with the trace rows.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const before = statSync(file).size;
    for (let i = 0; i < 10; i++) await store.push.trace(traceRows(i * 1000, 1000));
    assert.ok(statSync(`${file}-wal`).size > 1_000_000, 'the rows are in the WAL');
    const deadline = Date.now() + 5000;
    while (statSync(file).size - before < 1_000_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(statSync(file).size - before >= 1_000_000, `the database file grew by ${statSync(file).size - before} bytes: the WAL was not checkpointed`);
  });
});
