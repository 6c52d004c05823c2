import { sql, type Expression, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

/**
 * What differs between dialects in the SQL that storage/sql/ writes once: capabilities and
 * spellings, not branches (Kysely's DialectAdapter habit). Each dialect folder provides one.
 */
export interface SqlDialect {
  readonly name: string;
  /** Most bound parameters one statement may carry (SQLite 32,766; PostgreSQL 65,535), with room to spare. */
  readonly maxParams: number;
  /** The larger of two numbers: scalar `max(a, b)` on SQLite, `greatest(a, b)` on PostgreSQL. */
  greatest(a: Expression<number> | RawBuilder<number>, b: Expression<number> | RawBuilder<number> | number): RawBuilder<number>;
  /**
   * Several processes may write this database: claims lock rows (`FOR UPDATE SKIP LOCKED`) and
   * start-up recovery leaves other processes' leases alone. False for a file one process owns.
   */
  readonly shared: boolean;
  /**
   * Consecutive events of one group that reach every member share one row in a user's inbox
   * (compact-inbox.ts): SQLite's writer keeps each user's open run in memory, PostgreSQL's in
   * `user_heads`.
   */
  readonly compactInbox: boolean;
  /**
   * Each statement is a network round trip (PostgreSQL), which under load waits for the event
   * loop: a search of many small statements costs more there than one larger statement. False for
   * an in-process database, where a probe costs microseconds.
   */
  readonly remote: boolean;
}

/**
 * Runs a write of the server's own (push outbox, registrations, settings) in a transaction. SQLite
 * queues it behind the write gate with others into one commit; PostgreSQL runs it as is.
 */
export type WriteRunner = <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>;

/** Rows per multi-row statement so that `columns` parameters each stay under the dialect's limit. */
export function chunk<T>(rows: readonly T[], columns: number, maxParams: number): T[][] {
  const size = Math.max(1, Math.floor(maxParams / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Kysely's own transaction, for dialects whose writes need no batching. */
export function plainWrites(db: Kysely<Database>): WriteRunner {
  return (work) => db.transaction().execute(work);
}

/** A column of the row being updated, for `greatest()`. */
export const column = (name: string): RawBuilder<number> => sql<number>`${sql.ref(name)}`;
/** A column of the row that lost an upsert, for `greatest()`. */
export const excluded = (name: string): RawBuilder<number> => sql<number>`${sql.raw(`excluded.${name}`)}`;
