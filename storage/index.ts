import { openDatabase, type StorageConfig } from './kysely/create-database.ts';
import { InlineBatchWriter, type BatchWriter } from './kysely/append-writer.ts';
import { ThreadedBatchWriter } from './kysely/threaded-writer.ts';
import { WriteGate } from './kysely/write-gate.ts';
import { KyselyEventLog } from './kysely/kysely-event-log.ts';
import { KyselyReadModels } from './kysely/kysely-read-models.ts';
import { KyselyPushStore } from './kysely/kysely-push-store.ts';
import { KyselySettingsStore } from './kysely/kysely-settings-store.ts';
import type { Kysely } from 'kysely';
import type { Database } from './kysely/schema.ts';

export type { StorageConfig } from './kysely/create-database.ts';
export type { Database } from './kysely/schema.ts';
export * from './types.ts';
export * from './push-store.ts';
export * from './settings-store.ts';
export { apnsIdFor } from './kysely/kysely-push-store.ts';
export { rebuildReadModels, REBUILT_TABLES } from './kysely/rebuild.ts';
export { KyselyEventLog } from './kysely/kysely-event-log.ts';
export { InlineBatchWriter } from './kysely/append-writer.ts';
export { KyselyReadModels } from './kysely/kysely-read-models.ts';

export interface StoreOptions {
  maxGroupMembers: number;
  maxBatch: number;
  cursorFlushMs?: number;
  /** `thread`: appends are written by a worker thread with its own connection; `inline`: on the caller's thread. */
  writer?: 'thread' | 'inline';
}

export interface Store {
  db: Kysely<Database>;
  log: KyselyEventLog;
  readModels: KyselyReadModels;
  push: KyselyPushStore;
  settings: KyselySettingsStore;
  close(): Promise<void>;
}

/** Open the database, run migrations, load the writer's state. */
export async function openStore(config: StorageConfig, options: StoreOptions): Promise<Store> {
  // ':memory:' is a separate database per connection, so only the inline writer can serve it.
  const threaded = options.writer !== 'inline' && config.file !== ':memory:';
  const gate = threaded ? new WriteGate() : undefined;
  const { db, close, hotPath } = await openDatabase(config, gate);
  let writer: BatchWriter;
  try {
    writer = gate ? await ThreadedBatchWriter.start(config, gate) : new InlineBatchWriter(db, hotPath);
  } catch (error) {
    await close();
    throw error;
  }
  const log = await KyselyEventLog.open(db, { cursorFlushMs: 200, ...options }, writer);
  const readModels = new KyselyReadModels(db, log);
  return {
    db, log, readModels, push: new KyselyPushStore(db), settings: await KyselySettingsStore.open(db),
    async close() {
      await log.close();
      await close();
    },
  };
}
