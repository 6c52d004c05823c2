import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import type { Database } from '../sql/schema.ts';
import type { SqlDialect } from '../sql/dialect.ts';
import { PostgresMigrationProvider } from './migrations.ts';

/** PostgreSQL's spellings for the shared SQL (storage/sql/). */
export const POSTGRES: SqlDialect = {
  name: 'postgres',
  // The wire protocol allows 65,535 bound parameters per statement; keep multi-row statements under it.
  maxParams: 60_000,
  greatest: (a, b) => sql<number>`greatest(${a}, ${b})`,
  // Several processes may write one database: claims lock rows and leases are respected.
  shared: true,
  // A run's open end lives in user_heads, under the lock every append takes (postgres-writer.ts).
  compactInbox: true,
  remote: true,
};

export interface PostgresStorageConfig {
  dialect: 'postgres';
  /** `postgres://user:password@host:port/database`; when absent, pg reads PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. */
  url?: string;
  /** Connections in this process's pool (at least 2: migrations run beside the connection holding their lock). */
  poolSize?: number;
}

export interface OpenPostgres {
  db: Kysely<Database>;
  close(): Promise<void>;
}

const INT8_OID = 20;

/**
 * Ids, seqs and millisecond times are BIGINT; pg returns int8 as a string by default. Every value
 * here stays below 2^53, so they are parsed as JS numbers (per pool, not pg's global parser table).
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return (pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => unknown)(oid, format);
  },
} as pg.CustomTypesConfig;

/** An arbitrary, fixed advisory-lock key: one `tidings` migration at a time per database. */
const MIGRATION_LOCK = sql`hashtext('tidings:migrations')`;

/** A pool on an already migrated database (the writer thread's own connection). */
export function connect(config: PostgresStorageConfig): Kysely<Database> {
  const pool = new pg.Pool({
    ...(config.url ? { connectionString: config.url } : {}),
    max: Math.max(2, config.poolSize ?? 10),
    types,
    application_name: 'tidings',
  });
  // An idle connection that breaks (server restart, terminated backend) is dropped from the pool
  // and the next query opens a new one; without a listener the 'error' event would end the process.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * Migrate under a session advisory lock held on a connection of its own, around Kysely's
 * Migrator (which runs on the pool's other connections): two processes starting together on one
 * database take turns, and the second finds everything applied.
 */
export async function migrate(db: Kysely<Database>, target?: string): Promise<void> {
  await db.connection().execute(async (lockConnection) => {
    await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK})`.execute(lockConnection);
    try {
      const migrator = new Migrator({ db, provider: new PostgresMigrationProvider() });
      const { error, results } = target ? await migrator.migrateTo(target) : await migrator.migrateToLatest();
      const failed = results?.find((r) => r.status === 'Error');
      if (error || failed) throw new Error(`Database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`);
    } finally {
      await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`.execute(lockConnection);
    }
  });
}

/** Open a pool and migrate to the latest version (or to `target`, for tests of older schemas). */
export async function openPostgresDatabase(config: PostgresStorageConfig, target?: string): Promise<OpenPostgres> {
  const db = connect(config);
  try {
    await migrate(db, target);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return { db, close: () => db.destroy() };
}
