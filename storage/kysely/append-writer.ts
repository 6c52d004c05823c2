import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import type { AppendHotPath } from './create-database.ts';
import type { CallRecord } from '../types.ts';
import type { ProjectedEvent } from '../projector.ts';

/**
 * The write half of the event log: one group-commit batch in one transaction. It runs either
 * on the server's thread (`storage.writer=inline`, tools and tests of the log itself) or in a
 * worker thread with its own connection (`storage.writer=thread`, the server default), so that
 * SQLite work and the commit's fsync do not stall socket I/O. Everything it is given and returns
 * is plain data, because it crosses the thread boundary by structured clone.
 */
export interface WriteItem {
  event: Database['events'];
  /** Inbox recipients, in order; `countable[i]` is 1 when the event counts toward `recipients[i]`'s unread. */
  recipients: string[];
  countable: number[];
  readCursor?: ProjectedEvent['readCursor'];
  groupChange?: ProjectedEvent['groupChange'];
  callChange?: CallRecord;
}

export interface CursorWrite {
  userId: string;
  deviceId: string;
  seq: number;
}

export interface WriteBatch {
  items: WriteItem[];
  cursors: CursorWrite[];
}

export interface WriteResult {
  /** Indexes into `items` that the unique (sender, client id) index showed to be resends: nothing was stored for them. */
  resent: number[];
  /** Per item, the inbox seq given to each recipient (same order as `recipients`); empty for resends. */
  seqs: number[][];
}

export interface BatchWriter {
  /** Batches are written in call order. After a failure every later write fails until reset(). */
  write(batch: WriteBatch): Promise<WriteResult>;
  /** The caller has reloaded its state after a failure: accept batches again. */
  reset(): void;
  close(): Promise<void>;
}

// SQLite caps bound parameters per statement; keep multi-row inserts well under it.
const MAX_PARAMS = 30000;

export function chunk<T>(rows: T[], columns: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMS / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Each user's newest inbox seq (0 for an empty inbox). */
export async function inboxHeads(db: Kysely<Database> | Transaction<Database>, users: string[]): Promise<Map<string, number>> {
  const heads = new Map<string, number>();
  for (const part of chunk(users, 1)) {
    const rows = await db.selectFrom('inbox').select(['user_id', (eb) => eb.fn.max('seq').as('head')])
      .where('user_id', 'in', part).groupBy('user_id').execute();
    for (const user of part) heads.set(user, 0);
    for (const row of rows) heads.set(row.user_id, Number(row.head));
  }
  return heads;
}

export function writeItemOf(event: Database['events'], projected: ProjectedEvent): WriteItem {
  return {
    event,
    recipients: projected.recipients.map((r) => r.user),
    countable: projected.recipients.map((r) => (r.countable ? 1 : 0)),
    readCursor: projected.readCursor, groupChange: projected.groupChange, callChange: projected.callChange,
  };
}

export async function upsertCall(trx: Transaction<Database>, call: CallRecord, eventId: number): Promise<void> {
  await trx.insertInto('calls').values({
    call_id: call.callId, inviter: call.inviter, state: call.state, invitees: JSON.stringify(call.invitees),
    deadline: call.deadline, created_event_id: eventId, updated_event_id: eventId,
  }).onConflict((oc) => oc.column('call_id').doUpdateSet({
    state: call.state, invitees: JSON.stringify(call.invitees), updated_event_id: eventId,
  })).execute();
}

/** Writes batches on the connection it is given; as the only writer of inboxes it caches each user's head seq. */
export class InlineBatchWriter implements BatchWriter {
  readonly #db: Kysely<Database>;
  readonly #hotPath: AppendHotPath | undefined;
  readonly #heads = new Map<string, number>();
  // Set by a failed batch: later ones were planned on its effects and must not be written.
  #poisoned: Error | undefined;

  constructor(db: Kysely<Database>, hotPath: AppendHotPath | undefined) {
    this.#db = db;
    this.#hotPath = hotPath;
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    return (await this.writeMany([batch]))[0]!;
  }

  /** Several batches, in order, in one transaction (one commit): all are written or none. */
  async writeMany(batches: WriteBatch[]): Promise<WriteResult[]> {
    if (batches.every((b) => b.items.length === 0 && b.cursors.length === 0)) return batches.map(() => ({ resent: [], seqs: [] }));
    try {
      return await this.#db.transaction().execute(async (trx) => {
        // Checked on the connection: a write queued behind a failing one must see its failure.
        if (this.#poisoned) throw new Error(`not written: an earlier batch failed (${this.#poisoned.message})`);
        const results: WriteResult[] = [];
        for (const batch of batches) results.push(await this.#write(trx, batch));
        return results;
      });
    } catch (error) {
      // Rolled back: cached heads may include seqs that never committed.
      this.#heads.clear();
      this.#poisoned = error instanceof Error ? error : new Error(String(error));
      throw error;
    }
  }

  reset(): void {
    this.#poisoned = undefined;
  }

  async close(): Promise<void> {}

  async #loadHeads(trx: Transaction<Database>, users: string[]): Promise<void> {
    for (const [user, head] of await inboxHeads(trx, users.filter((u) => !this.#heads.has(u)))) this.#heads.set(user, head);
  }

  async #write(trx: Transaction<Database>, { items, cursors }: WriteBatch): Promise<WriteResult> {
    const result: WriteResult = { resent: [], seqs: items.map(() => []) };
    const stored: number[] = [];
    if (this.#hotPath) {
      items.forEach((item, i) => (this.#hotPath!.insertEvent(item.event) ? stored : result.resent).push(i));
    } else {
      const inserted = new Set<number>();
      for (const part of chunk(items.map((item) => item.event), 8)) {
        const rows = await trx.insertInto('events').values(part)
          .onConflict((oc) => oc.columns(['sender', 'client_msg_id']).where('client_msg_id', 'is not', null).doNothing())
          .returning('id').execute();
        for (const row of rows) inserted.add(row.id);
      }
      items.forEach((item, i) => (inserted.has(item.event.id) ? stored : result.resent).push(i));
    }
    const recipients = new Set<string>();
    for (const i of stored) for (const user of items[i]!.recipients) recipients.add(user);
    await this.#loadHeads(trx, [...recipients]);
    const inboxRows: Database['inbox'][] = [];
    const convRows = new Map<string, Database['conversation_state']>();
    const heads = new Map<string, number>();
    for (const i of stored) {
      const { event, recipients: users, countable } = items[i]!;
      const seqs = result.seqs[i]!;
      users.forEach((user, r) => {
        const seq = (heads.get(user) ?? this.#heads.get(user) ?? 0) + 1;
        heads.set(user, seq);
        seqs.push(seq);
        inboxRows.push({ user_id: user, seq, event_id: event.id, conversation: event.conversation, countable: countable[r]! });
        const key = `${user}\u0000${event.conversation}`;
        const row = convRows.get(key) ?? { user_id: user, conversation: event.conversation, read_event_id: 0, unread: 0, last_event_id: 0 };
        row.unread += countable[r]!;
        row.last_event_id = event.id;
        convRows.set(key, row);
      });
    }
    if (this.#hotPath) for (const row of inboxRows) this.#hotPath.insertInbox(row);
    else for (const part of chunk(inboxRows, 5)) await trx.insertInto('inbox').values(part).execute();
    for (const part of chunk([...convRows.values()], 5)) {
      await trx.insertInto('conversation_state').values(part).onConflict((oc) => oc.columns(['user_id', 'conversation']).doUpdateSet({
        unread: sql`unread + excluded.unread`,
        last_event_id: sql`max(last_event_id, excluded.last_event_id)`,
      })).execute();
    }
    for (const i of stored) await writeSideEffects(trx, items[i]!);
    for (const part of chunk(cursors, 4)) {
      await trx.insertInto('device_cursors')
        .values(part.map((c) => ({ user_id: c.userId, device_id: c.deviceId, acked_seq: c.seq, updated_at: Date.now() })))
        .onConflict((oc) => oc.columns(['user_id', 'device_id']).doUpdateSet({
          acked_seq: sql`max(acked_seq, excluded.acked_seq)`, updated_at: sql`excluded.updated_at`,
        })).execute();
    }
    for (const [user, seq] of heads) this.#heads.set(user, seq);
    return result;
  }
}

async function writeSideEffects(trx: Transaction<Database>, item: WriteItem): Promise<void> {
  const eventId = item.event.id;
  const change = item.groupChange;
  if (change?.create) {
    await trx.insertInto('groups').values({ group_id: change.groupId, name: change.create.name, created_by: change.create.createdBy, created_event_id: eventId }).execute();
  }
  if (change?.add?.length) {
    for (const part of chunk(change.add, 3)) {
      await trx.insertInto('group_members').values(part.map((user_id) => ({ group_id: change.groupId, user_id, joined_event_id: eventId }))).execute();
    }
  }
  if (change?.remove?.length) {
    await trx.deleteFrom('group_members').where('group_id', '=', change.groupId).where('user_id', 'in', change.remove).execute();
  }
  if (item.callChange) await upsertCall(trx, item.callChange, eventId);
  const read = item.readCursor;
  if (read) {
    await trx.updateTable('conversation_state')
      .set({
        read_event_id: sql`max(read_event_id, ${read.upTo})`,
        unread: sql`(SELECT count(*) FROM inbox WHERE inbox.user_id = conversation_state.user_id
          AND inbox.conversation = conversation_state.conversation AND inbox.countable = 1
          AND inbox.event_id > max(conversation_state.read_event_id, ${read.upTo}))`,
      })
      .where('user_id', '=', read.user).where('conversation', '=', item.event.conversation).execute();
  }
}
