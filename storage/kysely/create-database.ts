import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Dialect } from 'kysely';
import type { Database } from './schema.ts';
import { CodeMigrationProvider } from './migrations.ts';

export interface StorageConfig {
  dialect: 'sqlite';
  /** SQLite file path; ':memory:' only for throwaway tools. */
  file: string;
  /** SQLite synchronous pragma: FULL survives power loss, NORMAL survives process crashes (kill -9). */
  synchronous: 'FULL' | 'NORMAL';
}

export interface OpenDatabase {
  db: Kysely<Database>;
  close(): Promise<void>;
}

/** The one place a dialect is chosen; callers only ever see Kysely<Database>. */
function createDialect(config: StorageConfig): Dialect {
  switch (config.dialect) {
    case 'sqlite': {
      if (config.file !== ':memory:') mkdirSync(dirname(config.file), { recursive: true });
      const sqlite = new SQLite(config.file);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma(`synchronous = ${config.synchronous}`);
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma('busy_timeout = 5000');
      return new SqliteDialect({ database: sqlite });
    }
    default:
      throw new Error(`Unsupported storage dialect ${String((config as { dialect: unknown }).dialect)}`);
  }
}

export async function openDatabase(config: StorageConfig): Promise<OpenDatabase> {
  const db = new Kysely<Database>({ dialect: createDialect(config) });
  const migrator = new Migrator({ db, provider: new CodeMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await db.destroy();
    throw new Error(`Database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`);
  }
  return { db, close: () => db.destroy() };
}
