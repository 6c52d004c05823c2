import { sql, type Kysely, type Transaction } from 'kysely';
import type { CursorWrite, WriteBatch, WriteItem, WriteResult, WrittenItem } from '../contract.ts';
import type { ProjectionLimits } from '../domain/projector.ts';
import { InboxAssigner, isRunEvent, newestOrdOf, type OpenRun } from '../sql/compact-inbox.ts';
import { conversationRowsOf, type AssignedItem } from '../sql/projection-sql.ts';
import type { Database } from '../sql/schema.ts';
import { POSTGRES } from './postgres-database.ts';
import { lockSharedState, needOf, reproject, type Reprojected } from './shared-state.ts';
import { applySideEffectsBatched } from './side-effects.ts';

type Live = { index: number; item: WriteItem };

const byKey = (a: CursorWrite, b: CursorWrite) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);

/**
 * Writes append batches to a database that several processes may share. The database assigns
 * what must be unique across them, in one transaction per batch:
 *
 * 1. shared state: the groups and calls the drafts depend on are locked and read, and those drafts
 *    re-projected on it (shared-state.ts); a draft the shared state refuses is answered `rejected`;
 * 2. inbox heads: each recipient's `user_heads` row (their newest seq and open run, compact-inbox.ts)
 *    is locked, in sorted order, by one upsert that also reads the newest conv_ord of each group
 *    the batch's run events go to (their group rows are locked FOR UPDATE in 1, so no other
 *    writer draws a conv_ord of those groups until this one commits);
 * 3. event ids and events, and the locked heads read back, in one statement: ids drawn from events_id_seq only now, under those
 *    locks (so a user's event ids grow with their seqs, as inbox-by-event.ts needs), rows inserted
 *    with `ON CONFLICT DO NOTHING` on the idempotency index: a row not inserted is a resend (its
 *    conv_ord is left unused: a run never spans a gap);
 * 4. seqs and inbox rows by the same InboxAssigner as SQLite's writer and rebuild, from the locked
 *    heads; then the inbox rows, the new heads and open runs of the users who got a row,
 *    conversation_state increments and device cursors in one statement; then the batch's group
 *    changes (one statement each, rare), all its call changes in one statement and all its read
 *    cursors in another (side-effects.ts).
 *
 * Every statement is a round trip that waits for the event loop, which delivery and planning keep
 * busy, so the common path is five (begin, lock heads, events with the heads read, inbox and
 * counts, commit), with arrays (unnest) instead of one parameter per value.
 *
 * Batches are written one at a time, in call order (the engine applies outcomes in order; a batch
 * planned on an earlier one must see its effects). After a failure every later batch is refused
 * until reset().
 */
export class PostgresBatchWriter {
  readonly #db: Kysely<Database>;
  readonly #limits: ProjectionLimits;
  #tail: Promise<unknown> = Promise.resolve();
  #poisoned: Error | undefined;

  constructor(db: Kysely<Database>, limits: ProjectionLimits) {
    this.#db = db;
    this.#limits = limits;
  }

  write(batch: WriteBatch): Promise<WriteResult> {
    const run = this.#tail.then(() => this.#run(batch));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  reset(): void {
    this.#poisoned = undefined;
  }

  /** Wait for the batches handed over so far (the pool is its owner's to close). */
  async close(): Promise<void> {
    await this.#tail;
  }

  async #run(batch: WriteBatch): Promise<WriteResult> {
    if (this.#poisoned) throw new Error(`not written: an earlier batch failed (${this.#poisoned.message})`);
    if (batch.items.length === 0 && batch.cursors.length === 0) return { items: [] };
    try {
      return await this.#db.transaction().execute((trx) => this.#write(trx, batch));
    } catch (error) {
      this.#poisoned = error instanceof Error ? error : new Error(String(error));
      throw error;
    }
  }

  async #write(trx: Transaction<Database>, { items, cursors }: WriteBatch): Promise<WriteResult> {
    const needs = items.flatMap((item) => needOf(item.draft) ?? []);
    const outcomes: Reprojected[] = needs.length > 0
      ? reproject(items, await lockSharedState(trx, needs), this.#limits)
      : items.map((item) => ({ item }));
    const live: Live[] = outcomes.flatMap((o, index) => ('item' in o ? [{ index, item: o.item }] : []));

    const assigned: Array<AssignedItem & { index: number }> = [];
    const rows: Database['inbox'][] = [];
    const heads: HeadWrite[] = [];
    if (live.length > 0) {
      const users = [...new Set(live.flatMap(({ item }) => item.recipients))];
      const runEvent = live.map(({ item }) => isRunEvent(item.event.kind, item.event.conversation));
      const groups = [...new Set(live.filter((_, k) => runEvent[k]).map(({ item }) => item.event.conversation))];
      const groupOrds = await lockHeads(trx, users, groups);
      const ords = live.map(({ item }, k) => {
        if (!runEvent[k]) return null;
        const ord = groupOrds.get(item.event.conversation)! + 1;
        groupOrds.set(item.event.conversation, ord);
        return ord;
      });
      const { ids, inserted, inbox } = await insertEvents(trx, live, ords, users);
      live.forEach(({ index, item }, k) => {
        const eventId = ids[k]!;
        if (inserted.has(eventId)) assigned.push({ index, item, eventId, seqs: inbox.assign(item, eventId, ords[k]!, rows) });
      });
      // A user whose run only grew needs no write: their stored head is read through the run (insertEvents).
      for (const user of new Set(rows.map((r) => r.user_id))) heads.push({ user, ...inbox.stateOf(user) });
    }
    await insertInboxAndCounts(trx, rows, heads, assigned, [...cursors].sort(byKey));
    await applySideEffectsBatched(trx, assigned);

    const written: WrittenItem[] = outcomes.map((o) => ('rejected' in o ? { rejected: o.rejected } : { resent: true }));
    for (const { index, eventId, seqs } of assigned) {
      const outcome = outcomes[index]!;
      const projected = 'projected' in outcome ? outcome.projected : undefined;
      written[index] = { eventId, seqs, ...(projected ? { projected } : {}) };
    }
    return { items: written };
  }
}

/** A user's head and open run after the batch, for user_heads (written for users who got a row). */
interface HeadWrite {
  user: string;
  head: number;
  run: OpenRun | undefined;
}

/**
 * Lock the recipients' user_heads rows (created at 0 when new) in sorted order (the SELECT's
 * order is the order the upsert takes them in; `WHERE false` locks an existing row without
 * writing a new version of it), and read the newest conv_ord of each group (0 for none): their
 * rows were locked by an earlier statement, so this one sees every event of theirs there is.
 */
async function lockHeads(trx: Transaction<Database>, users: readonly string[], groups: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await sql<{ conversation: string; last_ord: number }>`
    WITH locked AS (
      INSERT INTO user_heads (user_id, head)
      SELECT u, 0 FROM unnest(${users}::text[]) AS t(u) ORDER BY u COLLATE "C"
      ON CONFLICT (user_id) DO UPDATE SET head = user_heads.head WHERE false
    )
    SELECT g.c AS conversation, coalesce(${newestOrdOf(sql.ref('g.c'))}, 0) AS last_ord FROM unnest(${groups}::text[]) AS g(c)`.execute(trx);
  return new Map(rows.map((r) => [r.conversation, Number(r.last_ord)]));
}

/**
 * Draw the ids and insert the events in one statement (arrays, not one parameter per value); the
 * stored JSON gets its id in SQL, as eventJson() would. Returns each item's id, which were
 * inserted, and an InboxAssigner that knows each recipient's head and open run, read by the same
 * statement: it began after lockHeads held their rows, so it sees the commits that released them.
 *
 * A head row is written only when its user gets an inbox row, so while their newest row's run
 * grows it stays behind: `head` is their seq at `run_last_ord`, and every later event of the
 * run's group is theirs too (compact-inbox.ts), so their head is `head + (newest conv_ord −
 * run_last_ord)`. That newest conv_ord cannot move under this read: an event of the group locks
 * every member's row, theirs included, and this transaction holds it. (The events this statement
 * inserts are not visible to its own read.)
 */
async function insertEvents(
  trx: Transaction<Database>, live: readonly Live[], ords: ReadonlyArray<number | null>, users: readonly string[],
): Promise<{ ids: number[]; inserted: Set<number>; inbox: InboxAssigner }> {
  const col = <T>(pick: (item: WriteItem) => T) => live.map(({ item }) => pick(item));
  const { rows } = await sql<{ k: 'e' | 'h'; ord: number; id: number; inserted: boolean; user_id: string; head: number; conversation: string | null; last_ord: number | null }>`
    WITH drawn AS (
      SELECT nextval('events_id_seq') AS id, t.* FROM unnest(${col((i) => i.event.kind)}::text[], ${col((i) => i.event.conversation)}::text[],
        ${col((i) => i.event.sender)}::text[], ${col((i) => i.event.clientMsgId)}::text[], ${col((i) => i.event.messageId)}::text[],
        ${col((i) => i.event.at)}::bigint[], ${col((i) => i.event.body)}::text[], ${ords}::bigint[])
        WITH ORDINALITY AS t(kind, conversation, sender, client_msg_id, message_id, at, body, conv_ord, ord)
    ), stored AS (
      INSERT INTO events (id, kind, conversation, sender, client_msg_id, message_id, at, json, conv_ord)
      SELECT id, kind, conversation, sender, client_msg_id, message_id, at,
        CASE WHEN body = '{}' THEN '{"eventId":' || id || '}' ELSE '{"eventId":' || id || ',' || substr(body, 2) END, conv_ord
      FROM drawn ORDER BY ord
      ON CONFLICT (sender, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
      RETURNING id
    )
    SELECT 'e' AS k, drawn.ord, drawn.id, stored.id IS NOT NULL AS inserted, NULL::text AS user_id, NULL::bigint AS head,
      NULL::text AS conversation, NULL::bigint AS last_ord FROM drawn LEFT JOIN stored ON stored.id = drawn.id
    UNION ALL
    SELECT 'h', 0, NULL, NULL, h.user_id, h.head + coalesce(g.last - h.run_last_ord, 0), h.run_conversation, g.last
    FROM user_heads h LEFT JOIN LATERAL (SELECT ${newestOrdOf(sql.ref('h.run_conversation'))} AS last WHERE h.run_conversation IS NOT NULL) g ON true
    WHERE h.user_id = ANY(${users}::text[])`.execute(trx);
  const inbox = new InboxAssigner(POSTGRES.compactInbox);
  for (const row of rows) {
    if (row.k === 'h') inbox.know(row.user_id, Number(row.head), row.conversation === null ? undefined : { conversation: row.conversation, lastOrd: Number(row.last_ord) });
  }
  const drawn = rows.filter((r) => r.k === 'e').sort((a, b) => Number(a.ord) - Number(b.ord));
  const ids = drawn.map((r) => Number(r.id));
  // Ids follow batch order (nextval runs as unnest yields its rows in order); never assume it silently.
  if (ids.some((id, k) => k > 0 && id <= ids[k - 1]!)) throw new Error('event ids were not drawn in batch order');
  return { ids, inserted: new Set(drawn.filter((r) => r.inserted).map((r) => Number(r.id))), inbox };
}

/**
 * The batch's inbox rows, the recipients' new heads and open runs, its conversation_state
 * increments (conversationRowsOf, upserted as the shared applyProjection does) and the device
 * cursors, as one statement of four writes.
 */
async function insertInboxAndCounts(
  trx: Transaction<Database>, inbox: readonly Database['inbox'][], heads: readonly HeadWrite[], assigned: readonly AssignedItem[], cursors: readonly CursorWrite[],
): Promise<void> {
  const conv = conversationRowsOf(assigned);
  if (inbox.length === 0 && heads.length === 0 && conv.length === 0 && cursors.length === 0) return;
  const now = Date.now();
  await sql`
    WITH inbox_rows AS (
      INSERT INTO inbox (user_id, seq, event_id, conversation, countable, run_ord)
      SELECT * FROM unnest(${inbox.map((r) => r.user_id)}::text[], ${inbox.map((r) => r.seq)}::bigint[], ${inbox.map((r) => r.event_id)}::bigint[],
        ${inbox.map((r) => r.conversation)}::text[], ${inbox.map((r) => r.countable)}::smallint[], ${inbox.map((r) => r.run_ord)}::bigint[])
    ), head_rows AS (
      UPDATE user_heads SET head = t.h, run_conversation = t.c, run_last_ord = t.o
      FROM unnest(${heads.map((h) => h.user)}::text[], ${heads.map((h) => h.head)}::bigint[], ${heads.map((h) => h.run?.conversation ?? null)}::text[],
        ${heads.map((h) => h.run?.lastOrd ?? null)}::bigint[]) AS t(u, h, c, o)
      WHERE user_heads.user_id = t.u
    ), cursor_rows AS (
      INSERT INTO device_cursors (user_id, device_id, acked_seq, updated_at)
      SELECT u, d, s, ${now}::bigint FROM unnest(${cursors.map((c) => c.userId)}::text[], ${cursors.map((c) => c.deviceId)}::text[],
        ${cursors.map((c) => c.seq)}::bigint[]) WITH ORDINALITY AS t(u, d, s, ord) ORDER BY ord
      ON CONFLICT (user_id, device_id) DO UPDATE SET acked_seq = greatest(device_cursors.acked_seq, excluded.acked_seq), updated_at = excluded.updated_at
    )
    INSERT INTO conversation_state (user_id, conversation, read_event_id, unread, last_event_id)
    SELECT * FROM unnest(${conv.map((r) => r.user_id)}::text[], ${conv.map((r) => r.conversation)}::text[], ${conv.map((r) => r.read_event_id)}::bigint[],
      ${conv.map((r) => r.unread)}::int[], ${conv.map((r) => r.last_event_id)}::bigint[])
    ON CONFLICT (user_id, conversation) DO UPDATE SET unread = conversation_state.unread + excluded.unread,
      last_event_id = greatest(conversation_state.last_event_id, excluded.last_event_id)`.execute(trx);
}
