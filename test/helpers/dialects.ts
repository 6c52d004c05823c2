import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore, type StorageConfig, type Store, type StoreOptions } from '../../storage/index.ts';

/**
 * The dialects the storage conformance suite runs on: `TIDINGS_TEST_DIALECTS=sqlite,postgres`
 * (default: sqlite). Each gives a fresh database per call, reopenable, removed afterwards.
 */
export const TEST_DIALECTS: readonly string[] = (process.env.TIDINGS_TEST_DIALECTS ?? 'sqlite').split(',').map((d) => d.trim()).filter(Boolean);

/** The dialect the servers of the protocol, push and reliability tests run on: `TIDINGS_TEST_DIALECT` (default: sqlite). */
export const TEST_DIALECT: string = process.env.TIDINGS_TEST_DIALECT ?? 'sqlite';

/** For tests of SQLite's own machinery (write gate, writer thread, the file): why they skip on another server dialect. */
export const SQLITE_ONLY = TEST_DIALECT === 'sqlite' ? false : `SQLite's own machinery; TIDINGS_TEST_DIALECT=${TEST_DIALECT} (it runs in the SQLite run)`;

export interface TestDatabase {
  readonly dialect: string;
  readonly config: StorageConfig;
  open(options?: Partial<StoreOptions>): Promise<Store>;
  drop(): Promise<void>;
}

const DEFAULT_OPTIONS: StoreOptions = { maxGroupMembers: 1000, maxBatch: 1000 };

export async function createTestDatabase(dialect: string): Promise<TestDatabase> {
  switch (dialect) {
    case 'sqlite': {
      const dir = mkdtempSync(join(tmpdir(), 'tidings-store-'));
      const config: StorageConfig = { dialect: 'sqlite', file: join(dir, 'tidings.db'), synchronous: 'NORMAL', cacheSizeMb: 8 };
      return {
        dialect, config,
        open: (options = {}) => openStore(config, { ...DEFAULT_OPTIONS, ...options }),
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'postgres': {
      const database = await createPgDatabase();
      const config: StorageConfig = { dialect: 'postgres', url: database.url, poolSize: 4 };
      return {
        dialect, config,
        open: (options = {}) => openStore(config, { ...DEFAULT_OPTIONS, ...options }),
        drop: () => database.drop(),
      };
    }
    default:
      throw new Error(`no test database for dialect ${dialect} (TIDINGS_TEST_DIALECTS)`);
  }
}

export interface StoreUnderTest {
  readonly store: Store;
  readonly database: TestDatabase;
  /** Close the store (committing what is pending) and open the same database again. */
  reopen(options?: Partial<StoreOptions>): Promise<Store>;
}

/** Run `body` against a fresh store of `dialect`, closed and dropped afterwards. */
export async function withTestStore(dialect: string, body: (t: StoreUnderTest) => Promise<void>, options: Partial<StoreOptions> = {}): Promise<void> {
  const database = await createTestDatabase(dialect);
  let store = await database.open(options);
  const t: StoreUnderTest = {
    get store() { return store; },
    database,
    async reopen(again = options) {
      await store.close();
      store = await database.open(again);
      return store;
    },
  };
  try {
    await body(t);
  } finally {
    await store.close();
    await database.drop();
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: one fresh DATABASE per test database, in the throw-away cluster whose maintenance
// URL is TIDINGS_TEST_PG_URL (tools/ci/postgres.sh start prints it; `npm run test:pg` sets it).

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function pgAdminUrl(): string {
  const url = process.env.TIDINGS_TEST_PG_URL;
  if (!url) throw new Error('TIDINGS_TEST_PG_URL is not set: run `npm run test:pg`, or start a cluster with tools/ci/postgres.sh start <dir>');
  return url;
}

/** The test cluster's URL with another database name. */
export function pgUrlOf(database: string): string {
  const url = new URL(pgAdminUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

const newDatabaseName = () => `tidings_t${process.pid}_${randomBytes(5).toString('hex')}`;

export interface PgTestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Run SQL on the maintenance database (CREATE/DROP DATABASE cannot run in a transaction, so one statement each). */
async function adminQuery(text: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: pgAdminUrl() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export async function createPgDatabase(): Promise<PgTestDatabase> {
  const name = newDatabaseName();
  await adminQuery(`CREATE DATABASE ${name}`);
  return { name, url: pgUrlOf(name), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * Synchronous SQL on the test cluster (for the synchronous helpers of the child-process tests):
 * a short node child runs the statements with pg and prints the rows of the last one as JSON
 * (int8 as numbers).
 */
export function pgQuerySync<T = Record<string, unknown>>(url: string, statements: readonly string[]): T[] {
  const script = `import pg from 'pg';
pg.types.setTypeParser(20, Number);
const [url, statements] = [process.argv[1], JSON.parse(process.argv[2])];
const client = new pg.Client({ connectionString: url });
await client.connect();
let rows = [];
try { for (const text of statements) rows = (await client.query(text)).rows; } finally { await client.end(); }
process.stdout.write(JSON.stringify(rows));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, url, JSON.stringify(statements)], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out || '[]') as T[];
}

const createdSync = new Set<string>();
let dropHooked = false;

/** A fresh database created synchronously; dropped when this test process exits. */
export function createPgDatabaseSync(): { name: string; url: string } {
  const name = newDatabaseName();
  pgQuerySync(pgAdminUrl(), [`CREATE DATABASE ${name}`]);
  createdSync.add(name);
  if (!dropHooked) {
    dropHooked = true;
    process.once('exit', () => {
      try {
        pgQuerySync(pgAdminUrl(), [...createdSync].map((n) => `DROP DATABASE IF EXISTS ${n} WITH (FORCE)`));
      } catch {
        // The cluster is thrown away after the run anyway.
      }
    });
  }
  return { name, url: pgUrlOf(name) };
}

/**
 * Hold a test database's write path until `release()`, from a second connection: SQLite's write
 * lock, or PostgreSQL's `user_heads` rows of `users` (so a batch for them waits in lockHeads). A
 * store's next batch then waits in flight, and what comes after it waits in the queue.
 */
export async function holdWrites(config: StorageConfig, users: readonly string[]): Promise<() => Promise<void>> {
  if (config.dialect === 'sqlite') {
    const db = new Database(config.file!);
    db.exec('BEGIN IMMEDIATE');
    return async () => { db.exec('ROLLBACK'); db.close(); };
  }
  const client = new pg.Client({ connectionString: config.url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT * FROM user_heads WHERE user_id = ANY($1::text[]) FOR UPDATE', [users]);
  return async () => { await client.query('ROLLBACK'); await client.end(); };
}
