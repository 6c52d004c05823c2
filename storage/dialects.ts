/**
 * The storage dialects, one line each: the only place that names them. A dialect is a folder
 * (storage/<name>/) that opens a Store from its config; see docs/ARCHITECTURE.md for what a new
 * one must provide.
 */
import type { Store } from './contract.ts';
import type { StoreOptions } from './store-options.ts';
import type { SqliteStorageConfig } from './sqlite/sqlite-database.ts';
import type { PostgresStorageConfig } from './postgres/postgres-database.ts';

export type StorageConfig = SqliteStorageConfig | PostgresStorageConfig;

type Opener<C> = (config: C, options: StoreOptions) => Promise<Store>;

export const DIALECTS: { [D in StorageConfig['dialect']]: Opener<Extract<StorageConfig, { dialect: D }>> } = {
  // Loaded on use, so a process on one dialect never loads another's driver.
  sqlite: async (config, options) => (await import('./sqlite/sqlite-store.ts')).openSqliteStore(config, options),
  postgres: async (config, options) => (await import('./postgres/postgres-store.ts')).openPostgresStore(config, options),
};
