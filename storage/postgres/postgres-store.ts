import { sql, type Kysely } from 'kysely';
import { ThreadedBatchWriter, type BatchWriter } from '../engine/threaded-writer.ts';
import type { LogBackend, Store, WriteBatch, WriteResult } from '../contract.ts';
import { EventLogEngine } from '../engine/event-log.ts';
import { plainWrites } from '../sql/dialect.ts';
import { SqlLogReads } from '../sql/log-reads.ts';
import { SqlPushStore } from '../sql/push-store.ts';
import { SqlReadModels } from '../sql/read-models.ts';
import { rebuildReadModels } from '../sql/rebuild.ts';
import { newestOrdOf } from '../sql/compact-inbox.ts';
import type { Database } from '../sql/schema.ts';
import { SqlSettingsStore } from '../sql/settings-store.ts';
import { engineOptions, type StoreOptions } from '../store-options.ts';
import { openPostgresDatabase, POSTGRES, type PostgresStorageConfig } from './postgres-database.ts';
import { PostgresBatchWriter } from './postgres-writer.ts';
import type { WriterThreadData } from './writer-thread.ts';

// One batch committing and the next one planned behind it: the writer writes them one at a time
// (postgres-writer.ts), so planning overlaps the commit without batches racing for locks.
const WRITES_IN_FLIGHT = 2;

/** The shared SQL reads plus the writer that lets the database assign ids and seqs. */
class PostgresLogBackend extends SqlLogReads implements LogBackend {
  readonly reprojects = true;
  readonly #writer: BatchWriter;
  constructor(db: Kysely<Database>, writer: BatchWriter) {
    super(db, POSTGRES);
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
 * LOG-4 on PostgreSQL: the shared rebuild, then each user's head and open run again from the
 * rebuilt inbox: the newest row, and when it starts a run, its group's newest conv_ord.
 */
async function rebuild(db: Kysely<Database>): Promise<{ events: number }> {
  const result = await rebuildReadModels(db, POSTGRES);
  await db.transaction().execute(async (trx) => {
    await sql`DELETE FROM user_heads`.execute(trx);
    // Each user's newest row in one ordered pass (a `seq = (SELECT max(seq) …)` condition would be
    // evaluated on every row); a run's end is its group's newest conv_ord.
    await sql`INSERT INTO user_heads (user_id, head, run_conversation, run_last_ord)
      SELECT i.user_id, i.seq + coalesce(g.last - i.run_ord, 0), CASE WHEN i.run_ord IS NULL THEN NULL ELSE i.conversation END, g.last
      FROM (SELECT DISTINCT ON (user_id) user_id, seq, run_ord, conversation FROM inbox ORDER BY user_id, seq DESC) i
      LEFT JOIN LATERAL (SELECT ${newestOrdOf(sql.ref('i.conversation'))} AS last WHERE i.run_ord IS NOT NULL) g ON true`.execute(trx);
  });
  return result;
}

/**
 * PostgreSQL: any number of processes may open one database. The database assigns event ids and
 * seqs and holds the authoritative shared state (re-projection under row locks); each process's
 * planner state is a cache that a refusal reloads. Server-thread writes (push outbox,
 * registrations, settings) are plain transactions on the pool.
 */
export async function openPostgresStore(config: PostgresStorageConfig, options: StoreOptions): Promise<Store> {
  const { db, close } = await openPostgresDatabase(config);
  let writer: BatchWriter | undefined;
  let log: EventLogEngine | undefined;
  let settings: SqlSettingsStore;
  try {
    const limits = { maxGroupMembers: options.maxGroupMembers };
    writer = options.writer === 'inline'
      ? new PostgresBatchWriter(db, limits)
      : await ThreadedBatchWriter.start(new URL('./writer-thread.ts', import.meta.url), { config, limits } satisfies Omit<WriterThreadData, 'module'>);
    log = await EventLogEngine.open(new PostgresLogBackend(db, writer), engineOptions(options, WRITES_IN_FLIGHT));
    settings = await SqlSettingsStore.open(db);
  } catch (error) {
    // A started writer thread would keep the process alive.
    await (log ? log.close() : writer?.close())?.catch(() => undefined);
    await close();
    throw error;
  }
  const opened = log;
  return {
    dialect: 'postgres', db, log: opened, cursors: opened,
    readModels: new SqlReadModels(db, POSTGRES, () => opened.projection),
    push: new SqlPushStore(db, POSTGRES, plainWrites(db)),
    settings,
    rebuild: () => rebuild(db),
    async close() {
      await opened.close();
      await close();
    },
  };
}
