import { sql, type Kysely, type Transaction } from 'kysely';
import type { CursorWrite, WriteBatch, WriteItem, WriteResult, WrittenItem } from '../contract.ts';
import { eventJson } from '../contract.ts';
import type { ProjectionLimits } from '../domain/projector.ts';
import { applyProjection, inboxRowsOf, type AssignedItem } from '../sql/projection-sql.ts';
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
 * 3. event ids: drawn from events_id_seq only now, under those locks, so within a conversation event
 *    ids follow every reader's seqs;
 * 4. the events, with `ON CONFLICT DO NOTHING` on the idempotency index: a row not inserted is a
 *    resend (its recipients' heads are lowered again);
 * 5. inbox rows and the read models (the shared projection SQL).
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
      const ids = await drawEventIds(trx, live.length);
      const inserted = await insertEvents(trx, live, ids);
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
      await insertInbox(trx, inboxRowsOf(assigned));
    }
    await applyProjection(trx, POSTGRES, assigned, [...cursors].sort(byKey));

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

async function drawEventIds(trx: Transaction<Database>, n: number): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`SELECT nextval('events_id_seq') AS id FROM generate_series(1, ${n}::int)`.execute(trx);
  return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
}

/** One statement for the whole batch (arrays, not one parameter per value); returns the ids inserted. */
async function insertEvents(trx: Transaction<Database>, live: readonly Live[], ids: readonly number[]): Promise<Set<number>> {
  const col = <T>(pick: (item: WriteItem, k: number) => T) => live.map(({ item }, k) => pick(item, k));
  const { rows } = await sql<{ id: number }>`
    INSERT INTO events (id, kind, conversation, sender, client_msg_id, message_id, at, json)
    SELECT * FROM unnest(${ids}::bigint[], ${col((i) => i.event.kind)}::text[], ${col((i) => i.event.conversation)}::text[],
      ${col((i) => i.event.sender)}::text[], ${col((i) => i.event.clientMsgId)}::text[], ${col((i) => i.event.messageId)}::text[],
      ${col((i) => i.event.at)}::bigint[], ${col((i, k) => eventJson(ids[k]!, i.event.body))}::text[])
    ON CONFLICT (sender, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
    RETURNING id`.execute(trx);
  return new Set(rows.map((r) => Number(r.id)));
}

async function insertInbox(trx: Transaction<Database>, rows: readonly Database['inbox'][]): Promise<void> {
  if (rows.length === 0) return;
  const col = <K extends keyof Database['inbox']>(key: K) => rows.map((r) => r[key]);
  await sql`INSERT INTO inbox (user_id, seq, event_id, conversation, countable)
    SELECT * FROM unnest(${col('user_id')}::text[], ${col('seq')}::bigint[], ${col('event_id')}::bigint[],
      ${col('conversation')}::text[], ${col('countable')}::smallint[])`.execute(trx);
}
