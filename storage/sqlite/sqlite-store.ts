import type { Kysely } from 'kysely';
import type { LogBackend, Store, WriteBatch, WriteResult } from '../contract.ts';
import type { Database } from '../sql/schema.ts';
import { EventLogEngine } from '../engine/event-log.ts';
import { plainWrites, type WriteRunner } from '../sql/dialect.ts';
import { SqlLogReads } from '../sql/log-reads.ts';
import { SqlPushStore } from '../sql/push-store.ts';
import { SqlReadModels } from '../sql/read-models.ts';
import { rebuildReadModels } from '../sql/rebuild.ts';
import { SqlSettingsStore } from '../sql/settings-store.ts';
import { engineOptions, type StoreOptions } from '../store-options.ts';
import { openSqliteDatabase, SQLITE, type SqliteStorageConfig } from './sqlite-database.ts';
import { ThreadedBatchWriter, type BatchWriter } from '../engine/threaded-writer.ts';
import { SqliteBatchWriter } from './sqlite-writer.ts';
import { WriteBatcher } from './write-batcher.ts';
import { WriteGate } from './write-gate.ts';

// One batch committing in the writer and one waiting behind it: the writer never waits for the
// server thread to resolve, deliver and plan between commits. More would only lengthen the queue.
const WRITES_IN_FLIGHT = 2;

/** The shared SQL reads plus SQLite's writer (inline, or the writer thread). */
class SqliteLogBackend extends SqlLogReads implements LogBackend {
  readonly #writer: BatchWriter;
  constructor(db: Kysely<Database>, writer: BatchWriter) {
    super(db, SQLITE);
    this.#writer = writer;
  }
  write(batch: WriteBatch): Promise<WriteResult> {
    return this.#writer.write(batch);
  }
  reset(): void {
    this.#writer.reset();
  }
  close(): Promise<void> {
    return this.#writer.close();
  }
}

/**
 * SQLite: one process owns the file. Its single writer (a worker thread by default, with its own
 * connection) assigns event ids and seqs; the server thread's own writes pass a fair write gate
 * and are batched into shared commits; plain reads use a second, read-only connection.
 */
export async function openSqliteStore(config: SqliteStorageConfig, options: StoreOptions): Promise<Store> {
  // ':memory:' is a separate database per connection, so only the inline writer can serve it.
  const threaded = options.writer !== 'inline' && config.file !== ':memory:';
  const gate = threaded ? new WriteGate() : undefined;
  const { db, close, hotPath } = await openSqliteDatabase(config, gate);
  let writer: BatchWriter;
  try {
    writer = gate ? await ThreadedBatchWriter.start(new URL('./writer-thread.ts', import.meta.url), { config, gate: gate.buffer }) : new SqliteBatchWriter(db, hotPath);
  } catch (error) {
    await close();
    throw error;
  }
  const log = await EventLogEngine.open(new SqliteLogBackend(db, writer), engineOptions(options, WRITES_IN_FLIGHT));
  const writes: WriteRunner = gate ? ((batcher) => (work) => batcher.run(work))(new WriteBatcher(db)) : plainWrites(db);
  return {
    dialect: 'sqlite', db, log, cursors: log,
    readModels: new SqlReadModels(db, SQLITE, () => log.projection),
    push: new SqlPushStore(db, SQLITE, writes),
    settings: await SqlSettingsStore.open(db),
    rebuild: () => rebuildReadModels(db, SQLITE),
    async close() {
      await log.close();
      await close();
    },
  };
}
