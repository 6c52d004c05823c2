import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql, type Dialect, type Driver, type SqliteDatabase, type SqliteDialectConfig } from 'kysely';
import { GatedDriver, type ReadConnection, type WriteGate } from './write-gate.ts';
import type { Database } from '../sql/schema.ts';
import type { SqlDialect } from '../sql/dialect.ts';
import type { ProjectionHotPath } from '../sql/projection-sql.ts';
import { profiledStatement } from './sql-profile.ts';
import { CodeMigrationProvider } from './migrations.ts';

/** SQLite's spellings for the shared SQL (storage/sql/). */
export const SQLITE: SqlDialect = {
  name: 'sqlite',
  // SQLite allows 32,766 bound parameters per statement; keep multi-row inserts well under it.
  maxParams: 30_000,
  greatest: (a, b) => sql<number>`max(${a}, ${b})`,
  shared: false,
  compactInbox: true,
  remote: false,
};

export interface SqliteStorageConfig {
  dialect: 'sqlite';
  /** SQLite file path; ':memory:' only for throwaway tools. */
  file: string;
  /** SQLite synchronous pragma: FULL survives power loss, NORMAL survives process crashes (kill -9). */
  synchronous: 'FULL' | 'NORMAL';
  /** SQLite page cache per connection. */
  cacheSizeMb: number;
}

export interface OpenDatabase {
  db: Kysely<Database>;
  /** Prepared single-row writers for the append hot path, when the dialect offers them. */
  hotPath: AppendHotPath | undefined;
  /** Copy the WAL into the database file as far as readers allow; never waits for writers (PASSIVE). */
  checkpoint(): void;
  close(): Promise<void>;
}

/**
 * The inserts and upserts every append makes, as prepared statements run once per row inside the
 * writer's Kysely transaction (same connection). Building a multi-row insert through the query
 * builder cost more than SQLite's own work for it (tools/bench/core.ts profile); dialects without a
 * hot path use the query builder.
 */
export interface AppendHotPath extends ProjectionHotPath {
  /** Returns false when the row was a resend (unique index on sender + client id). */
  insertEvent(row: Database['events']): boolean;
  insertInbox(row: Database['inbox']): void;
}

function sqliteHotPath(sqlite: SQLite.Database): AppendHotPath {
  const prepared = (text: string) => profiledStatement(text, sqlite.prepare(text));
  const event = prepared(`INSERT INTO events (id, kind, conversation, sender, client_msg_id, message_id, at, json, conv_ord)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING`);
  const inbox = prepared('INSERT INTO inbox (user_id, seq, event_id, conversation, countable, run_ord) VALUES (?, ?, ?, ?, ?, ?)');
  const conversation = prepared(`INSERT INTO conversation_state (user_id, conversation, read_event_id, unread, last_event_id) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (user_id, conversation) DO UPDATE SET unread = conversation_state.unread + excluded.unread,
    last_event_id = max(conversation_state.last_event_id, excluded.last_event_id)`);
  const cursor = prepared(`INSERT INTO device_cursors (user_id, device_id, acked_seq, updated_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (user_id, device_id) DO UPDATE SET acked_seq = max(device_cursors.acked_seq, excluded.acked_seq), updated_at = excluded.updated_at`);
  return {
    insertEvent: (r) => event.run(r.id, r.kind, r.conversation, r.sender, r.client_msg_id, r.message_id, r.at, r.json, r.conv_ord).changes === 1,
    insertInbox: (r) => void inbox.run(r.user_id, r.seq, r.event_id, r.conversation, r.countable, r.run_ord),
    upsertConversation: (r) => void conversation.run(r.user_id, r.conversation, r.read_event_id, r.unread, r.last_event_id),
    upsertCursor: (c, at) => void cursor.run(c.userId, c.deviceId, c.seq, at),
  };
}

/**
 * SQL text a connection keeps prepared statements for. A statement's compiled program costs about
 * 60 bytes of native memory per character of its text (a 1,000-parameter IN list: ~180 kB), and
 * queries whose lists vary in length each compile to a statement of their own; a cache bounded by
 * count alone filled with those and grew the server's RSS by the hundreds of MB over a load run.
 */
const STATEMENT_CACHE_CHARS = 256 * 1024;
/** Longer statements are compiled for each use and freed with their object. */
const LARGEST_CACHED_STATEMENT_CHARS = 8 * 1024;

/**
 * Kysely's SQLite driver prepares every statement afresh; preparing is a measurable share of the
 * hot path (tools/bench/core.ts profile), so identical SQL reuses its compiled statement (an LRU
 * bounded by the SQL text it holds).
 */
export function withStatementCache(sqlite: SQLite.Database, maxChars = STATEMENT_CACHE_CHARS): SqliteDatabase & { cachedChars(): number } {
  const cache = new Map<string, SQLite.Statement>();
  let chars = 0;
  return {
    close: () => sqlite.close(),
    cachedChars: () => chars,
    prepare(text: string) {
      let statement = cache.get(text);
      if (statement) {
        cache.delete(text);
        cache.set(text, statement);
      } else {
        statement = sqlite.prepare(text);
        if (text.length <= Math.min(LARGEST_CACHED_STATEMENT_CHARS, maxChars)) {
          for (const oldest of cache.keys()) {
            if (chars + text.length <= maxChars) break;
            cache.delete(oldest);
            chars -= oldest.length;
          }
          cache.set(text, statement);
          chars += text.length;
        }
      }
      return profiledStatement(text, statement);
    },
  };
}

/** SQLite whose writes pass a WriteGate shared with the storage writer thread; plain reads use a second connection. */
class GatedSqliteDialect extends SqliteDialect {
  readonly #gate: WriteGate;
  readonly #reader: ReadConnection;
  constructor(config: SqliteDialectConfig, gate: WriteGate, reader: ReadConnection) {
    super(config);
    this.#gate = gate;
    this.#reader = reader;
  }
  override createDriver(): Driver {
    return new GatedDriver(super.createDriver(), this.#gate, this.#reader);
  }
}

/**
 * WAL pages after which a commit also checkpoints. SQLite runs that checkpoint in whichever
 * connection commits past the mark; a connection opened with `checkpoints: false` never does.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

function openSqliteFile(config: SqliteStorageConfig, checkpoints = true): SQLite.Database {
  const sqlite = new SQLite(config.file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${config.synchronous}`);
  sqlite.pragma('foreign_keys = ON');
  // The writer thread and the server thread each hold a connection; a write that meets the
  // other's transaction waits for it instead of failing.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma(`wal_autocheckpoint = ${checkpoints ? WAL_AUTOCHECKPOINT_PAGES : 0}`);
  // A larger page cache keeps the inbox and index pages of active users in memory.
  sqlite.pragma(`cache_size = -${config.cacheSizeMb * 1024}`);
  return sqlite;
}

function connect(config: SqliteStorageConfig, gate?: WriteGate): { db: Kysely<Database>; sqlite: SQLite.Database } {
  if (config.file !== ':memory:') mkdirSync(dirname(config.file), { recursive: true });
  // Beside a writer thread, the event loop's connections never checkpoint: a checkpoint copies
  // thousands of pages (tens of ms) inside the commit that crosses the mark, which would stall every
  // socket. The writer thread's commits checkpoint for all of them, and it checkpoints when idle
  // (writer-thread.ts).
  const sqlite = openSqliteFile(config, !gate);
  const dialectConfig = { database: withStatementCache(sqlite) };
  let dialect: Dialect = new SqliteDialect(dialectConfig);
  if (gate) {
    const reader = openSqliteFile(config, false);
    reader.pragma('query_only = ON');
    dialect = new GatedSqliteDialect(dialectConfig, gate, withStatementCache(reader));
  }
  return { db: new Kysely<Database>({ dialect }), sqlite };
}

// Prepared after migrations: the statements need the tables.
function opened(db: Kysely<Database>, sqlite: SQLite.Database): OpenDatabase {
  return {
    db, hotPath: sqliteHotPath(sqlite), close: () => db.destroy(),
    checkpoint: () => void sqlite.pragma('wal_checkpoint(PASSIVE)'),
  };
}

/** A connection to an already migrated database (the storage writer thread opens its own). */
export function openSqlite(config: SqliteStorageConfig): OpenDatabase {
  const { db, sqlite } = connect(config);
  return opened(db, sqlite);
}

/** Open and migrate. With a gate, every write on this connection first passes it (writer-thread mode). */
export async function openSqliteDatabase(config: SqliteStorageConfig, gate?: WriteGate): Promise<OpenDatabase> {
  const { db, sqlite } = connect(config, gate);
  const migrator = new Migrator({ db, provider: new CodeMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await db.destroy();
    throw new Error(`Database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`);
  }
  return opened(db, sqlite);
}
