import { sql, type Kysely, type Transaction } from 'kysely';
import type { CursorWrite, WriteBatch, WriteItem, WriteResult, WrittenItem } from '../contract.ts';
import type { ProjectionLimits } from '../domain/projector.ts';
import { applySideEffects, conversationRowsOf, inboxRowsOf, type AssignedItem } from '../sql/projection-sql.ts';
import type { Database } from '../sql/schema.ts';
import { POSTGRES } from './postgres-database.ts';
import { lockSharedState, needOf, reproject, type Reprojected } from './shared-state.ts';

type Live = { index: number; item: WriteItem };

const byKey = (a: CursorWrite, b: CursorWrite) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);

/**
 * Writes append batches to a database that several processes may share. The database assigns
 * what must be unique across them, in one transaction per batch:
 *
 * 1. shared state: the groups and calls the drafts depend on are locked and read, and those drafts
 *    re-projected on it (shared-state.ts); a draft the shared state refuses is answered `rejected`;
 * 2. inbox seqs: each recipient's `user_heads` row is raised by its count in the batch, in sorted
 *    order, with one upsert that also locks it until commit;
 * 3. event ids and events, in one statement: ids drawn from events_id_seq only now, under those
 *    locks (so within a conversation event ids follow every reader's seqs), rows inserted with
 *    `ON CONFLICT DO NOTHING` on the idempotency index: a row not inserted is a resend (its
 *    recipients' heads are lowered again);
 * 4. inbox rows, conversation_state increments and device cursors in one statement, then each
 *    item's group, call and read-cursor effects (the shared projection SQL).
 *
 * Every statement is a round trip that waits for the event loop, which delivery and planning keep
 * busy, so the common path is five (begin, heads, events, inbox and counts, commit), with arrays
 * (unnest) instead of one parameter per value.
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

  /** Wait for the batches handed over so far. */
  async drain(): Promise<void> {
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

    let assigned: Array<AssignedItem & { index: number }> = [];
    if (live.length > 0) {
      const counts = countRecipients(live);
      const heads = await raiseHeads(trx, counts);
      const { ids, inserted } = await insertEvents(trx, live);
      const stored = live.map((l, k) => ({ ...l, eventId: ids[k]! })).filter((s) => inserted.has(s.eventId));
      if (stored.length < live.length) {
        // Resends: their recipients were counted; give those seqs back while the rows are still locked.
        const resent = countRecipients(live.filter((_, k) => !inserted.has(ids[k]!)));
        await lowerHeads(trx, resent);
        for (const [user, n] of resent) {
          heads.set(user, heads.get(user)! - n);
          counts.set(user, counts.get(user)! - n);
        }
      }
      const next = new Map<string, number>();
      for (const [user, head] of heads) next.set(user, head - counts.get(user)!);
      assigned = stored.map(({ index, item, eventId }) => ({
        index, item, eventId,
        seqs: item.recipients.map((user) => {
          const seq = next.get(user)! + 1;
          next.set(user, seq);
          return seq;
        }),
      }));
    }
    await insertInboxAndCounts(trx, assigned, [...cursors].sort(byKey));
    for (const a of assigned) await applySideEffects(trx, POSTGRES, a);

    const written: WrittenItem[] = outcomes.map((o) => ('rejected' in o ? { rejected: o.rejected } : { resent: true }));
    for (const { index, eventId, seqs } of assigned) {
      const outcome = outcomes[index]!;
      const projected = 'projected' in outcome ? outcome.projected : undefined;
      written[index] = { eventId, seqs, ...(projected ? { projected } : {}) };
    }
    return { items: written };
  }
}

function countRecipients(live: readonly Live[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { item } of live) for (const user of item.recipients) counts.set(user, (counts.get(user) ?? 0) + 1);
  return counts;
}

/**
 * Raise each user's head by their count, rows locked in sorted order (the SELECT's order is the
 * order the upsert takes them in); returns each user's new head.
 */
async function raiseHeads(trx: Transaction<Database>, counts: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const users = [...counts.keys()];
  const { rows } = await sql<{ user_id: string; head: number }>`
    INSERT INTO user_heads (user_id, head)
    SELECT u, n FROM unnest(${users}::text[], ${users.map((u) => counts.get(u)!)}::bigint[]) AS t(u, n) ORDER BY u COLLATE "C"
    ON CONFLICT (user_id) DO UPDATE SET head = user_heads.head + EXCLUDED.head
    RETURNING user_id, head`.execute(trx);
  return new Map(rows.map((r) => [r.user_id, Number(r.head)]));
}

async function lowerHeads(trx: Transaction<Database>, counts: ReadonlyMap<string, number>): Promise<void> {
  const users = [...counts.keys()];
  await sql`UPDATE user_heads SET head = user_heads.head - t.n
    FROM unnest(${users}::text[], ${users.map((u) => counts.get(u)!)}::bigint[]) AS t(u, n) WHERE user_heads.user_id = t.u`.execute(trx);
}

/**
 * Draw the ids and insert the events in one statement (arrays, not one parameter per value); the
 * stored JSON gets its id in SQL, as eventJson() would. Returns each item's id and which were inserted.
 */
async function insertEvents(trx: Transaction<Database>, live: readonly Live[]): Promise<{ ids: number[]; inserted: Set<number> }> {
  const col = <T>(pick: (item: WriteItem) => T) => live.map(({ item }) => pick(item));
  const { rows } = await sql<{ id: number; inserted: boolean }>`
    WITH drawn AS (
      SELECT nextval('events_id_seq') AS id, t.* FROM unnest(${col((i) => i.event.kind)}::text[], ${col((i) => i.event.conversation)}::text[],
        ${col((i) => i.event.sender)}::text[], ${col((i) => i.event.clientMsgId)}::text[], ${col((i) => i.event.messageId)}::text[],
        ${col((i) => i.event.at)}::bigint[], ${col((i) => i.event.body)}::text[])
        WITH ORDINALITY AS t(kind, conversation, sender, client_msg_id, message_id, at, body, ord)
    ), stored AS (
      INSERT INTO events (id, kind, conversation, sender, client_msg_id, message_id, at, json)
      SELECT id, kind, conversation, sender, client_msg_id, message_id, at,
        CASE WHEN body = '{}' THEN '{"eventId":' || id || '}' ELSE '{"eventId":' || id || ',' || substr(body, 2) END
      FROM drawn ORDER BY ord
      ON CONFLICT (sender, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
      RETURNING id
    )
    SELECT drawn.id, stored.id IS NOT NULL AS inserted FROM drawn LEFT JOIN stored ON stored.id = drawn.id ORDER BY drawn.ord`.execute(trx);
  const ids = rows.map((r) => Number(r.id));
  // Ids follow batch order (nextval runs as unnest yields its rows in order); never assume it silently.
  if (ids.some((id, k) => k > 0 && id <= ids[k - 1]!)) throw new Error('event ids were not drawn in batch order');
  return { ids, inserted: new Set(rows.filter((r) => r.inserted).map((r) => Number(r.id))) };
}

/**
 * The batch's inbox rows, its conversation_state increments (conversationRowsOf, upserted as the
 * shared applyProjection does) and the device cursors, as one statement of three inserts.
 */
async function insertInboxAndCounts(trx: Transaction<Database>, assigned: readonly AssignedItem[], cursors: readonly CursorWrite[]): Promise<void> {
  const inbox = inboxRowsOf(assigned);
  const conv = conversationRowsOf(assigned);
  if (inbox.length === 0 && cursors.length === 0) return;
  const now = Date.now();
  await sql`
    WITH inbox_rows AS (
      INSERT INTO inbox (user_id, seq, event_id, conversation, countable)
      SELECT * FROM unnest(${inbox.map((r) => r.user_id)}::text[], ${inbox.map((r) => r.seq)}::bigint[], ${inbox.map((r) => r.event_id)}::bigint[],
        ${inbox.map((r) => r.conversation)}::text[], ${inbox.map((r) => r.countable)}::smallint[])
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
