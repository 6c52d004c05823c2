import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';
import type { SqlDialect } from './dialect.ts';
import { entryAt, firstEntryAfterEvent, newestEntry } from './compact-inbox.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** One inbox entry's place: the user's seq and the event it holds. */
export interface InboxPlace {
  seq: number;
  eventId: number;
}

const placeOf = (row: { seq: number; event_id: number } | undefined): InboxPlace | undefined =>
  (row ? { seq: Number(row.seq), eventId: Number(row.event_id) } : undefined);

/**
 * A user's first inbox entry for an event after `eventId`, or undefined when there is none.
 *
 * The inbox has no index by event: every writer hands out a user's seqs in event order (SQLite's
 * one writer; PostgreSQL's writers under the user's head lock, postgres-writer.ts), so event ids
 * grow with seq along the primary key. On a compact inbox whose statements are round trips
 * (`dialect.remote`, PostgreSQL) one statement answers it (compact-inbox.ts). Otherwise (SQLite) a search gallops back from the user's head
 * (entries wanted here are nearly always recent ones: a read, a resend) and then halves, one
 * primary-key probe per step, so an entry n places from the head costs about 2·log2(n) probes.
 * Seqs need not be dense.
 */
export async function firstEntryAfter(db: Db, dialect: SqlDialect, userId: string, eventId: number): Promise<InboxPlace | undefined> {
  if (dialect.compactInbox && dialect.remote) return firstEntryAfterEvent(db, userId, eventId);
  // The entry with the largest seq at or below `seq` (on a compact inbox, the one at `seq`: a run
  // holds every seq up to the next row).
  const atOrBelow = dialect.compactInbox ? (seq: number) => entryAt(db, userId, seq)
    : async (seq: number): Promise<InboxPlace | undefined> => placeOf(await db.selectFrom('inbox').select(['seq', 'event_id'])
      .where('user_id', '=', userId).where('seq', '<=', seq).orderBy('seq', 'desc').limit(1).executeTakeFirst());
  let after = dialect.compactInbox ? await newestEntry(db, userId, dialect.maxParams) : await atOrBelow(Number.MAX_SAFE_INTEGER);
  if (!after || after.eventId <= eventId) return undefined;
  // Invariant: `after` holds an event after `eventId`; no entry at or below `before` does.
  let before = 0;
  for (let step = 1; ; step *= 2) {
    const probe = await atOrBelow(after.seq - step);
    if (!probe) break;
    if (probe.eventId <= eventId) {
      before = probe.seq;
      break;
    }
    after = probe;
  }
  for (;;) {
    const middle = Math.floor((before + after.seq) / 2);
    if (middle <= before) return after;
    const probe = await atOrBelow(middle);
    if (probe && probe.seq > before && probe.eventId > eventId) after = probe;
    else before = middle;
  }
}
