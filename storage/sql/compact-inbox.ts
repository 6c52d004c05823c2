import { sql, type Expression, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { parseConversation } from '../../protocol/index.ts';
import type { InboxEntry, WriteItem } from '../contract.ts';
import type { Database } from './schema.ts';
import { chunk } from './dialect.ts';
import { rowToStored } from './stored-event.ts';

/*
 * The compact inbox (`SqlDialect.compactInbox`, SQLite): a run of one group's events in one row.
 *
 * Every member of a group gets each of its messages (projector.ts) and each of its announcements
 * to all members: joins (the joiner too), leaves and removals, role changes, renames, the
 * dissolution (group-rules.ts). When a user's consecutive inbox entries are consecutive such
 * events of one group, the row of the first stands for all of them. Each such event has its place
 * in its group, `events.conv_ord` (1, 2, 3, … per group); a row with `run_ord` set starts a run
 * there. The run covers the user's seqs from the row's up to the next row's, exclusive, or, for
 * the user's newest row, up to the group's newest event: seq s of a run holds the group event at
 * conv_ord = run_ord + (s − seq). A member stops getting a group's events only through one they
 * receive themselves (their leave or removal, the dissolution), and a leave or removal is a row of
 * its own for the one who goes and ends their run, so a run never claims an event its user did
 * not get (the dissolution is the group's last event). Joins are runs too so that filling a group
 * (an invite of 1,000 is 1,000 joins, each to every member) costs rows for the joiners, not for
 * every member at every join. Group events that reach only some members (join requests and their
 * rejection) and group creation are plain rows; so were joins, leaves and the rest when written
 * before the compact inbox took them in (their conv_ord is NULL).
 *
 * Seqs, the events behind them and their order are exactly those of one row per recipient; only
 * the storage differs, and a plain row (run_ord NULL) is a run of one. A 2,000-member group whose
 * members talk there and nowhere else in between costs one `events` row per message, not 2,000
 * inbox rows; a member who got anything else since the group's last message costs one row, as
 * before (docs/ARCHITECTURE.md has the cost model).
 */

type Db = Kysely<Database> | Transaction<Database>;

/** Group events every member receives (group-rules.ts, projector.ts). */
const TO_EVERY_MEMBER = new Set(['message', 'member_joined', 'member_left', 'member_role', 'group_updated', 'group_dissolved']);

/** A group event whose recipients are the group's members: it gets a conv_ord and may extend their runs. */
export function isRunEvent(kind: string, conversation: string): boolean {
  return TO_EVERY_MEMBER.has(kind) && parseConversation(conversation)?.kind === 'group';
}

/** A user's newest row when it starts a run, as its writer remembers it: the group and the last conv_ord it covers. */
export interface OpenRun {
  conversation: string;
  lastOrd: number;
}

/**
 * Hands out each recipient's next seq and writes rows only where a run cannot be extended. The
 * live single writer and `rebuild` share it, so both store the same rows (LOG-4). It must know
 * every recipient's head (and open run) before assign(): a writer loads them (`know`), rebuild
 * starts from empty inboxes.
 */
export class InboxAssigner {
  readonly #heads = new Map<string, number>();
  readonly #runs = new Map<string, OpenRun>();
  readonly #compact: boolean;

  constructor(compact: boolean) {
    this.#compact = compact;
  }

  knows(user: string): boolean {
    return this.#heads.has(user);
  }

  know(user: string, head: number, run: OpenRun | undefined): void {
    this.#heads.set(user, head);
    if (run) this.#runs.set(user, run);
    else this.#runs.delete(user);
  }

  /** The user's head and open run as the assignments so far left them (a writer that stores them: PostgreSQL's user_heads). */
  stateOf(user: string): { head: number; run: OpenRun | undefined } {
    return { head: this.#heads.get(user) ?? 0, run: this.#runs.get(user) };
  }

  /** Forget everything (the batch that produced it rolled back). */
  clear(): void {
    this.#heads.clear();
    this.#runs.clear();
  }

  /** Seqs of the item's recipients, in order; appends the rows to store to `rows`. `ord`: the event's conv_ord, for a run event. */
  assign(item: WriteItem, eventId: number, ord: number | null, rows: Database['inbox'][]): number[] {
    const { conversation } = item.event;
    const runs = this.#compact && ord !== null;
    // Those who leave with this event get it as a row of its own: their runs end here.
    const leaving = runs ? item.groupChange?.remove : undefined;
    return item.recipients.map((user, r) => {
      const seq = (this.#heads.get(user) ?? 0) + 1;
      this.#heads.set(user, seq);
      const run = this.#runs.get(user);
      if (leaving?.includes(user)) {
        this.#runs.delete(user);
        rows.push({ user_id: user, seq, event_id: eventId, conversation, countable: item.countable[r]!, run_ord: null });
        return seq;
      }
      if (runs) {
        if (run && run.conversation === conversation && run.lastOrd === ord - 1) {
          run.lastOrd = ord;
          return seq;
        }
        this.#runs.set(user, { conversation, lastOrd: ord });
      } else if (run) {
        this.#runs.delete(user);
      }
      rows.push({ user_id: user, seq, event_id: eventId, conversation, countable: item.countable[r]!, run_ord: runs ? ord : null });
      return seq;
    });
  }
}

/** A stored inbox row as the compact reads need it. */
export interface InboxRow {
  seq: number;
  eventId: number;
  conversation: string;
  countable: number;
  runOrd: number | null;
}

const rowOf = (row: { seq: number; event_id: number; conversation: string; countable: number; run_ord: number | null }): InboxRow => ({
  seq: Number(row.seq), eventId: Number(row.event_id), conversation: row.conversation, countable: Number(row.countable),
  runOrd: row.run_ord === null ? null : Number(row.run_ord),
});

const ROW_COLUMNS = ['seq', 'event_id', 'conversation', 'countable', 'run_ord'] as const;

/** The user's row with the largest seq at or below `seq`: the one whose run (or single entry) holds that seq, if any. */
export async function rowAtOrBelow(db: Db, userId: string, seq: number): Promise<InboxRow | undefined> {
  const row = await db.selectFrom('inbox').select(ROW_COLUMNS).where('user_id', '=', userId).where('seq', '<=', seq)
    .orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? rowOf(row) : undefined;
}

/** Each user's newest row (users without one are left out). */
export async function newestRowsOf(db: Db, users: readonly string[], maxParams: number): Promise<Map<string, InboxRow>> {
  const out = new Map<string, InboxRow>();
  for (const part of chunk([...new Set(users)], 1, maxParams)) {
    // The newest seq per user first (one backward probe each), then that row by its key.
    const rows = await sql<{ user_id: string; seq: number; event_id: number; conversation: string; countable: number; run_ord: number | null }>`
      WITH wanted(id) AS (VALUES ${sql.join(part.map((u) => sql`(${u})`))}),
        tops AS (SELECT wanted.id AS user_id, (SELECT max(m.seq) FROM inbox m WHERE m.user_id = wanted.id) AS seq FROM wanted)
      SELECT i.user_id, i.seq, i.event_id, i.conversation, i.countable, i.run_ord FROM tops JOIN inbox i ON i.user_id = tops.user_id AND i.seq = tops.seq`.execute(db);
    for (const row of rows.rows) out.set(row.user_id, rowOf(row));
  }
  return out;
}

/**
 * SQL for the newest conv_ord of the group named by `conversation` (a column or a value); NULL
 * before its first run event. The one spelling of where a newest row's run ends (on the partial
 * index events_by_conv_ord).
 */
export function newestOrdOf(conversation: RawBuilder<unknown>): RawBuilder<number | null> {
  return sql<number | null>`(SELECT e.conv_ord FROM events e WHERE e.conversation = ${conversation} AND e.conv_ord IS NOT NULL
    ORDER BY e.conv_ord DESC LIMIT 1)`;
}

/** The newest conv_ord of a group and that event's id (undefined: none yet). */
export async function newestInGroup(db: Db, conversation: string): Promise<{ ord: number; eventId: number } | undefined> {
  const row = await db.selectFrom('events').select(['conv_ord', 'id']).where('conversation', '=', conversation)
    .where('conv_ord', 'is not', null).orderBy('conv_ord', 'desc').limit(1).executeTakeFirst();
  return row ? { ord: Number(row.conv_ord), eventId: Number(row.id) } : undefined;
}

/** The last seq a user's newest row covers: its own, or the end of its run (the group's newest run event). */
export async function lastSeqOf(db: Db, row: InboxRow): Promise<number> {
  if (row.runOrd === null) return row.seq;
  const newest = await newestInGroup(db, row.conversation);
  if (!newest || newest.ord < row.runOrd) throw new Error(`inbox run at conv_ord ${row.runOrd} of ${row.conversation} has no event`);
  return row.seq + newest.ord - row.runOrd;
}

/**
 * Each user's newest seq (0 for an empty inbox), in one statement per chunk of users: the newest
 * row's seq plus, when it starts a run, the group's events after its first.
 */
export async function compactHeadsIn(db: Db, users: readonly string[], maxParams: number): Promise<Map<string, number>> {
  const heads = new Map<string, number>();
  for (const part of chunk([...new Set(users)], 1, maxParams)) {
    // One backward probe of the key per user: a condition `seq = (SELECT max(seq) …)` on the
    // user's rows is evaluated row by row, which made every head read cost the user's whole history.
    const rows = await sql<{ user_id: string; head: number | null }>`WITH wanted(id) AS (VALUES ${sql.join(part.map((u) => sql`(${u})`))})
      SELECT wanted.id AS user_id, (SELECT i.seq + CASE WHEN i.run_ord IS NULL THEN 0 ELSE ${newestOrdOf(sql.ref('i.conversation'))} - i.run_ord END
        FROM inbox i WHERE i.user_id = wanted.id ORDER BY i.seq DESC LIMIT 1) AS head FROM wanted`.execute(db);
    for (const row of rows.rows) heads.set(row.user_id, Number(row.head ?? 0));
  }
  return heads;
}

/**
 * The event ids of a group's run events from conv_ord `from` to `to`, in order. A missing one means
 * the inbox and the log disagree, which no reader may paper over.
 */
async function groupEventIds(db: Db, conversation: string, from: number, to: number): Promise<number[]> {
  const rows = await db.selectFrom('events').select('id').where('conversation', '=', conversation)
    .where('conv_ord', '>=', from).where('conv_ord', '<=', to).orderBy('conv_ord').execute();
  if (rows.length !== to - from + 1) throw new Error(`inbox run of ${conversation}: conv_ord ${from}..${to} has ${rows.length} events`);
  return rows.map((r) => Number(r.id));
}

/** The entry at exactly `seq` (at most the user's head), found through the row that holds it. */
export async function entryAt(db: Db, userId: string, seq: number): Promise<{ seq: number; eventId: number } | undefined> {
  const row = await rowAtOrBelow(db, userId, seq);
  if (!row) return undefined;
  if (row.runOrd === null || row.seq === seq) return { seq: row.seq, eventId: row.eventId };
  const ord = row.runOrd + (seq - row.seq);
  const [eventId] = await groupEventIds(db, row.conversation, ord, ord);
  return { seq, eventId: eventId! };
}

/**
 * The user's newest entry, or undefined for an empty inbox. The head comes first, in one
 * statement: a reader beside the writer (the server's thread) must not take the newest row from
 * one commit and its run's end from a later one, where the run may have ended and the group moved on.
 */
export async function newestEntry(db: Db, userId: string, maxParams: number): Promise<{ seq: number; eventId: number } | undefined> {
  const head = (await compactHeadsIn(db, [userId], maxParams)).get(userId)!;
  return head === 0 ? undefined : entryAt(db, userId, head);
}

/**
 * The user's rows that hold seqs after `after`, each with the last seq it covers, in seq order,
 * stopping once `limit` entries are covered or past `upTo`.
 */
async function rowsAfter(db: Db, userId: string, after: number, upTo: number, limit: number): Promise<Array<{ row: InboxRow; last: number }>> {
  const holder = await rowAtOrBelow(db, userId, after + 1);
  const start = holder && holder.runOrd !== null ? holder.seq : after + 1;
  const rows = (await db.selectFrom('inbox').select(ROW_COLUMNS).where('user_id', '=', userId)
    .where('seq', '>=', start).where('seq', '<=', upTo).orderBy('seq').limit(limit + 1).execute()).map(rowOf);
  const out: Array<{ row: InboxRow; last: number }> = [];
  let covered = 0;
  for (const [i, row] of rows.entries()) {
    const next = rows[i + 1];
    const last = Math.min(upTo, next ? next.seq - 1 : row.runOrd === null ? row.seq : await lastSeqOf(db, row));
    out.push({ row, last });
    covered += last - Math.max(row.seq, after + 1) + 1;
    if (covered >= limit) break;
  }
  return out;
}

/**
 * readCompactInbox in one statement, for a dialect whose statements are round trips
 * (`SqlDialect.remote`). The user's rows from the one holding seq `after + 1`, at most `limit + 1`
 * of them (each holds at least one entry), each spelled out to its entries up to its next row's
 * seq, or for the last one fetched up to `upTo`; the first `limit` entries after `after` are the
 * answer (entries a cut-off run's last row might claim beyond its true end have larger seqs than
 * every entry of the rows before it, so they are never among them).
 */
export async function readCompactInboxInOneStatement(db: Db, userId: string, after: number, upTo: number, limit: number): Promise<InboxEntry[]> {
  if (upTo <= after || limit <= 0) return [];
  const { rows } = await sql<Omit<Database['events'], 'conv_ord'> & { seq: number }>`
    WITH mine AS (
      SELECT seq, event_id, conversation, run_ord, lead(seq) OVER (ORDER BY seq) AS next_seq FROM (
        SELECT seq, event_id, conversation, run_ord FROM inbox WHERE user_id = ${userId}
          AND seq >= coalesce((SELECT max(h.seq) FROM inbox h WHERE h.user_id = ${userId} AND h.seq <= ${after + 1}), ${after + 1})
          AND seq <= ${upTo} ORDER BY seq LIMIT ${limit + 1}) x
    ), places AS (
      SELECT seq, event_id FROM mine WHERE run_ord IS NULL AND seq > ${after}
      UNION ALL
      SELECT m.seq + (g.conv_ord - m.run_ord), g.id FROM mine m JOIN events g ON g.conversation = m.conversation
        AND g.conv_ord >= m.run_ord AND g.conv_ord > m.run_ord + (${after} - m.seq)
        AND g.conv_ord <= m.run_ord + (coalesce(m.next_seq - 1, ${upTo}) - m.seq)
      WHERE m.run_ord IS NOT NULL
    )
    SELECT p.seq, e.id, e.kind, e.conversation, e.sender, e.client_msg_id, e.message_id, e.at, e.json
    FROM places p JOIN events e ON e.id = p.event_id WHERE p.seq <= ${upTo} ORDER BY p.seq LIMIT ${limit}`.execute(db);
  return rows.map((row) => ({ seq: Number(row.seq), event: rowToStored(row) }));
}

/** readInbox on a compact inbox: the same entries as one row per recipient would give. */
export async function readCompactInbox(db: Db, userId: string, after: number, upTo: number, limit: number, maxParams: number): Promise<InboxEntry[]> {
  if (upTo <= after || limit <= 0) return [];
  const places: Array<{ seq: number; eventId: number }> = [];
  for (const { row, last } of await rowsAfter(db, userId, after, upTo, limit)) {
    const first = Math.max(row.seq, after + 1);
    const end = Math.min(last, first + (limit - places.length) - 1);
    if (end < first) continue;
    if (row.runOrd === null) places.push({ seq: row.seq, eventId: row.eventId });
    else {
      const ids = await groupEventIds(db, row.conversation, row.runOrd + (first - row.seq), row.runOrd + (end - row.seq));
      ids.forEach((eventId, i) => places.push({ seq: first + i, eventId }));
    }
    if (places.length >= limit) break;
  }
  const events = new Map<number, ReturnType<typeof rowToStored>>();
  for (const part of chunk([...new Set(places.map((p) => p.eventId))], 1, maxParams)) {
    for (const row of await db.selectFrom('events').selectAll().where('id', 'in', part).execute()) events.set(Number(row.id), rowToStored(row));
  }
  return places.map(({ seq, eventId }) => ({ seq, event: events.get(eventId)! }));
}

/**
 * The expression for a user's unread entries in one conversation after event `after` (an
 * expression itself: the reader's new read cursor), for the writer's read-cursor update: plain
 * rows count by their `countable`, runs by the group's messages from others (its other run
 * events never count, as their rows' `countable` says). A user's event ids grow with their seqs,
 * so only the rows from their last one at or before `after` are looked at; the newest row's run
 * reaches the group's newest event, which the writer's transaction sees.
 */
export function unreadAfter(userId: string | Expression<string>, conversation: string | Expression<string>, after: RawBuilder<number>): RawBuilder<number> {
  const from = sql`coalesce((SELECT h.seq FROM inbox h WHERE h.user_id = ${userId} AND h.event_id <= ${after} ORDER BY h.seq DESC LIMIT 1), 0)`;
  return sql<number>`((SELECT count(*) FROM inbox p WHERE p.user_id = ${userId} AND p.seq >= ${from} AND p.conversation = ${conversation}
      AND p.run_ord IS NULL AND p.countable = 1 AND p.event_id > ${after})
    + (SELECT count(*) FROM (SELECT conversation, run_ord,
          coalesce(run_ord + (lead(seq) OVER (ORDER BY seq) - seq) - 1, ${Number.MAX_SAFE_INTEGER}) AS last_ord FROM inbox
        WHERE user_id = ${userId} AND seq >= ${from}) r
      JOIN events e ON e.conversation = r.conversation AND e.conv_ord >= r.run_ord AND e.conv_ord <= r.last_ord
      WHERE r.run_ord IS NOT NULL AND r.conversation = ${conversation} AND e.id > ${after} AND e.kind = 'message' AND e.sender <> ${userId}))`;
}

/**
 * The user's first entry for an event after `eventId`, in one statement (for a dialect whose
 * statements are round trips: `SqlDialect.remote`). A user's event ids grow with their seqs, so
 * the answer is in the run of their last row whose own event is at or before `eventId`, or else
 * it is their next row; one statement, so one snapshot, even beside a writer.
 */
export async function firstEntryAfterEvent(db: Db, userId: string, eventId: number): Promise<{ seq: number; eventId: number } | undefined> {
  const { rows } = await sql<{ seq: number; event_id: number }>`
    WITH r0 AS (
      SELECT seq, conversation, run_ord FROM inbox WHERE user_id = ${userId} AND event_id <= ${eventId} ORDER BY seq DESC LIMIT 1
    ), nxt AS (
      SELECT seq, event_id FROM inbox WHERE user_id = ${userId} AND seq > coalesce((SELECT seq FROM r0), 0) ORDER BY seq LIMIT 1
    ), inrun AS (
      SELECT r0.seq + (e.conv_ord - r0.run_ord) AS seq, e.id AS event_id FROM r0 JOIN events e ON e.conversation = r0.conversation
        AND e.conv_ord > r0.run_ord AND e.id > ${eventId}
      WHERE r0.run_ord IS NOT NULL AND (NOT EXISTS (SELECT 1 FROM nxt) OR e.conv_ord < r0.run_ord + ((SELECT seq FROM nxt) - r0.seq))
      ORDER BY e.conv_ord LIMIT 1
    )
    SELECT seq, event_id FROM inrun UNION ALL SELECT seq, event_id FROM nxt WHERE NOT EXISTS (SELECT 1 FROM inrun)`.execute(db);
  const row = rows[0];
  return row ? { seq: Number(row.seq), eventId: Number(row.event_id) } : undefined;
}
