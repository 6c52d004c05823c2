import { sql, type Kysely, type Transaction } from 'kysely';
import { ProtocolError } from '../../protocol/index.ts';
import type { Database } from './schema.ts';
import type { AppendListener, AppendResult, EventDraft, EventLog, InboxEntry, StoredEvent } from '../types.ts';
import { applyCallChange, applyGroupChange, project, type ProjectedEvent, type ProjectionLimits, type ProjectionState } from '../projector.ts';
import { GroupCommitQueue, type Pending } from './group-commit.ts';
import { loadProjectionState } from './load-state.ts';
import type { AppendHotPath } from './create-database.ts';
import type { CallRecord } from '../types.ts';

export async function upsertCall(trx: Transaction<Database>, call: CallRecord, eventId: number): Promise<void> {
  await trx.insertInto('calls').values({
    call_id: call.callId, inviter: call.inviter, state: call.state, invitees: JSON.stringify(call.invitees),
    deadline: call.deadline, created_event_id: eventId, updated_event_id: eventId,
  }).onConflict((oc) => oc.column('call_id').doUpdateSet({
    state: call.state, invitees: JSON.stringify(call.invitees), updated_event_id: eventId,
  })).execute();
}

export interface EventLogOptions extends ProjectionLimits {
  /** Most drafts committed in one transaction. */
  maxBatch: number;
  /** Longest an ack cursor waits for a commit to ride along with. */
  cursorFlushMs: number;
}

type Planned = { pending: Pending<EventDraft, AppendResult>; result: AppendResult; projected: ProjectedEvent };
type InBatchDuplicate = { pending: Pending<EventDraft, AppendResult>; of: Planned };

// SQLite caps bound parameters per statement; keep multi-row inserts well under it.
const MAX_PARAMS = 30000;

function chunk<T>(rows: T[], columns: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMS / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

function rowToStored(row: Database['events']): StoredEvent {
  return {
    eventId: row.id, kind: row.kind as StoredEvent['kind'], conversation: row.conversation, sender: row.sender,
    at: row.at, clientMsgId: row.client_msg_id, messageId: row.message_id, json: row.json,
  };
}

/** The append-only log with fan-out-on-write inboxes, written through a group-commit queue. */
export class KyselyEventLog implements EventLog {
  readonly #db: Kysely<Database>;
  readonly #options: EventLogOptions;
  readonly #queue: GroupCommitQueue<EventDraft, AppendResult>;
  readonly #listeners: AppendListener[] = [];
  readonly #heads = new Map<string, number>();
  readonly #pendingCursors = new Map<string, { userId: string; deviceId: string; seq: number }>();
  #state: ProjectionState;
  #lastEventId: number;
  #cursorTimer: NodeJS.Timeout | undefined;

  readonly #hotPath: AppendHotPath | undefined;

  private constructor(db: Kysely<Database>, options: EventLogOptions, state: ProjectionState, lastEventId: number, hotPath: AppendHotPath | undefined) {
    this.#db = db;
    this.#hotPath = hotPath;
    this.#options = options;
    this.#state = state;
    this.#lastEventId = lastEventId;
    this.#queue = new GroupCommitQueue(options.maxBatch, (batch) => this.#commit(batch));
  }

  static async open(db: Kysely<Database>, options: EventLogOptions, hotPath?: AppendHotPath): Promise<KyselyEventLog> {
    const state = await loadProjectionState(db);
    const last = await db.selectFrom('events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    return new KyselyEventLog(db, options, state, Number(last?.id ?? 0), hotPath);
  }

  /** Read-only view of group membership, current as of the last commit. */
  get projection(): ProjectionState {
    return this.#state;
  }

  append(draft: EventDraft): Promise<AppendResult> {
    return this.#queue.submit(draft);
  }

  onCommitted(listener: AppendListener): void {
    this.#listeners.push(listener);
  }

  lastEventId(): number {
    return this.#lastEventId;
  }

  get queueDepth(): number {
    return this.#queue.depth;
  }

  flush(): Promise<void> {
    return this.#queue.flush();
  }

  /**
   * Device cursors ride along with the next commit; the latest value per device wins. With no
   * event traffic they are flushed after cursorFlushMs, so acks alone never cost a commit each.
   * A cursor lost in a crash only means an already-acked event may be pushed again (client dedupes).
   */
  saveCursor(userId: string, deviceId: string, seq: number): void {
    const key = `${userId}\u0000${deviceId}`;
    const prev = this.#pendingCursors.get(key);
    if (!prev || prev.seq < seq) this.#pendingCursors.set(key, { userId, deviceId, seq });
    if (!this.#cursorTimer) {
      this.#cursorTimer = setTimeout(() => {
        this.#cursorTimer = undefined;
        if (this.#pendingCursors.size > 0) this.#queue.kick();
      }, this.#options.cursorFlushMs);
      this.#cursorTimer.unref();
    }
  }

  /** Commit pending cursors now (shutdown). */
  async flushCursors(): Promise<void> {
    if (this.#pendingCursors.size > 0) this.#queue.kick();
    await this.#queue.flush();
  }

  cachedHeadSeq(userId: string): number | undefined {
    return this.#heads.get(userId);
  }

  async headSeq(userId: string): Promise<number> {
    await this.#loadHeads(this.#db, [userId]);
    return this.#heads.get(userId) ?? 0;
  }

  async readInbox(userId: string, after: number, limit: number): Promise<InboxEntry[]> {
    const rows = await this.#db.selectFrom('inbox as i')
      .innerJoin('events as e', 'e.id', 'i.event_id')
      .select(['i.seq', 'e.id', 'e.kind', 'e.conversation', 'e.sender', 'e.client_msg_id', 'e.message_id', 'e.at', 'e.json'])
      .where('i.user_id', '=', userId).where('i.seq', '>', after)
      .orderBy('i.seq').limit(limit).execute();
    return rows.map((row) => ({ seq: row.seq, event: rowToStored(row) }));
  }

  async eventsByIds(ids: readonly number[]): Promise<Map<number, StoredEvent>> {
    const out = new Map<number, StoredEvent>();
    for (const part of chunk([...new Set(ids)], 1)) {
      for (const row of await this.#db.selectFrom('events').selectAll().where('id', 'in', part).execute()) out.set(row.id, rowToStored(row));
    }
    return out;
  }

  async eventByMessageId(messageId: string): Promise<StoredEvent | undefined> {
    const row = await this.#db.selectFrom('events').selectAll().where('message_id', '=', messageId).executeTakeFirst();
    return row ? rowToStored(row) : undefined;
  }

  /** Which of these users have the event in their inbox (and at which seq). */
  async recipientsAmong(event: StoredEvent, users: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const part of chunk([...new Set(users)], 1)) {
      const rows = await this.#db.selectFrom('inbox').select(['user_id', 'seq']).where('user_id', 'in', part)
        .where('conversation', '=', event.conversation).where('event_id', '=', event.eventId).execute();
      for (const row of rows) out.set(row.user_id, row.seq);
    }
    return out;
  }

  async #loadHeads(db: Kysely<Database> | Transaction<Database>, users: string[]): Promise<void> {
    const missing = users.filter((u) => !this.#heads.has(u));
    for (const part of chunk(missing, 1)) {
      const rows = await db.selectFrom('inbox').select(['user_id', (eb) => eb.fn.max('seq').as('head')])
        .where('user_id', 'in', part).groupBy('user_id').execute();
      for (const user of part) this.#heads.set(user, 0);
      for (const row of rows) this.#heads.set(row.user_id, Number(row.head));
    }
  }

  /** LOG-2: the original of a resent message, with the sender's seq for it. */
  async #duplicateResult(sender: string, clientMsgId: string): Promise<AppendResult> {
    const original = await this.#db.selectFrom('events').selectAll()
      .where('sender', '=', sender).where('client_msg_id', '=', clientMsgId).executeTakeFirstOrThrow();
    const event = rowToStored(original);
    const row = await this.#db.selectFrom('inbox').select('seq')
      .where('user_id', '=', event.sender).where('conversation', '=', event.conversation).where('event_id', '=', event.eventId)
      .executeTakeFirst();
    return { event, seqs: new Map([[event.sender, row?.seq ?? 0]]), duplicate: true };
  }

  async #commit(batch: Pending<EventDraft, AppendResult>[]): Promise<void> {
    const planned: Planned[] = [];
    const inBatchDuplicates: InBatchDuplicate[] = [];
    const plannedByKey = new Map<string, Planned>();
    try {
      let nextId = this.#lastEventId;
      const at = Date.now();
      for (const pending of batch) {
        const draft = pending.input;
        const key = draft.kind === 'message' ? `${draft.sender}\u0000${draft.clientMsgId}` : undefined;
        const sameBatch = key ? plannedByKey.get(key) : undefined;
        if (sameBatch) {
          inBatchDuplicates.push({ pending, of: sameBatch });
          continue;
        }
        try {
          const projected = project(draft, nextId + 1, at, this.#state, this.#options);
          nextId += 1;
          if (projected.groupChange) applyGroupChange(this.#state, projected.groupChange);
          if (projected.callChange) applyCallChange(this.#state, projected.callChange);
          const event: StoredEvent = {
            eventId: nextId, kind: projected.kind, conversation: projected.conversation, sender: projected.sender,
            at, clientMsgId: projected.clientMsgId, messageId: projected.messageId, json: projected.json,
          };
          const result: AppendResult = { event, seqs: new Map(), duplicate: false };
          const plan = { pending, result, projected };
          planned.push(plan);
          if (key) plannedByKey.set(key, plan);
        } catch (error) {
          pending.reject(error);
        }
      }
      // Resends of messages committed earlier are found by the unique index at insert time, so the
      // common path (no resend) costs no lookup at all.
      const resent = await this.#write(planned);
      this.#lastEventId = nextId;
      for (const plan of resent) {
        planned.splice(planned.indexOf(plan), 1);
        const draft = plan.pending.input as Extract<EventDraft, { kind: 'message' }>;
        plan.pending.resolve(await this.#duplicateResult(draft.sender, draft.clientMsgId));
      }
    } catch (error) {
      // The transaction rolled back: group state may include changes that never committed.
      this.#state = await loadProjectionState(this.#db).catch(() => this.#state);
      this.#heads.clear();
      const failure = error instanceof ProtocolError ? error : new ProtocolError('internal', String(error));
      for (const p of [...planned, ...inBatchDuplicates]) p.pending.reject(failure);
      return;
    }
    const results = planned.map((p) => p.result);
    if (results.length > 0) for (const listener of this.#listeners) listener(results);
    for (const p of planned) p.pending.resolve(p.result);
    for (const d of inBatchDuplicates) {
      const sender = d.of.result.event.sender;
      d.pending.resolve({ event: d.of.result.event, seqs: new Map([[sender, d.of.result.seqs.get(sender) ?? 0]]), duplicate: true });
    }
  }

  /** Write a batch in one transaction; returns the plans the unique index showed to be resends. */
  async #write(plannedAll: Planned[]): Promise<Planned[]> {
    const cursors = [...this.#pendingCursors.values()];
    this.#pendingCursors.clear();
    if (plannedAll.length === 0 && cursors.length === 0) return [];
    return this.#db.transaction().execute(async (trx) => {
      const inserted = new Set<number>();
      const eventRows = plannedAll.map(({ result: { event } }) => ({
        id: event.eventId, kind: event.kind, conversation: event.conversation, sender: event.sender,
        client_msg_id: event.clientMsgId, message_id: event.messageId, at: event.at, json: event.json,
      }));
      if (this.#hotPath) {
        for (const row of eventRows) if (this.#hotPath.insertEvent(row)) inserted.add(row.id);
      } else {
        for (const part of chunk(eventRows, 8)) {
          const rows = await trx.insertInto('events').values(part)
            .onConflict((oc) => oc.columns(['sender', 'client_msg_id']).where('client_msg_id', 'is not', null).doNothing())
            .returning('id').execute();
          for (const row of rows) inserted.add(row.id);
        }
      }
      const planned = plannedAll.filter((p) => inserted.has(p.result.event.eventId));
      const recipients = new Set<string>();
      for (const p of planned) for (const r of p.projected.recipients) recipients.add(r.user);
      await this.#loadHeads(trx, [...recipients]);
      const inboxRows: Database['inbox'][] = [];
      const convRows = new Map<string, Database['conversation_state']>();
      const heads = new Map<string, number>();
      for (const { projected, result } of planned) {
        for (const { user, countable } of projected.recipients) {
          const seq = (heads.get(user) ?? this.#heads.get(user) ?? 0) + 1;
          heads.set(user, seq);
          result.seqs.set(user, seq);
          inboxRows.push({ user_id: user, seq, event_id: result.event.eventId, conversation: result.event.conversation, countable: countable ? 1 : 0 });
          const key = `${user}\u0000${result.event.conversation}`;
          const row = convRows.get(key) ?? { user_id: user, conversation: result.event.conversation, read_event_id: 0, unread: 0, last_event_id: 0 };
          row.unread += countable ? 1 : 0;
          row.last_event_id = result.event.eventId;
          convRows.set(key, row);
        }
      }
      if (this.#hotPath) for (const row of inboxRows) this.#hotPath.insertInbox(row);
      else for (const part of chunk(inboxRows, 5)) await trx.insertInto('inbox').values(part).execute();
      for (const part of chunk([...convRows.values()], 5)) {
        await trx.insertInto('conversation_state').values(part).onConflict((oc) => oc.columns(['user_id', 'conversation']).doUpdateSet({
          unread: sql`unread + excluded.unread`,
          last_event_id: sql`max(last_event_id, excluded.last_event_id)`,
        })).execute();
      }
      for (const { projected, result } of planned) await this.#writeSideEffects(trx, projected, result.event.eventId);
      for (const part of chunk(cursors, 4)) {
        await trx.insertInto('device_cursors')
          .values(part.map((c) => ({ user_id: c.userId, device_id: c.deviceId, acked_seq: c.seq, updated_at: Date.now() })))
          .onConflict((oc) => oc.columns(['user_id', 'device_id']).doUpdateSet({
            acked_seq: sql`max(acked_seq, excluded.acked_seq)`, updated_at: sql`excluded.updated_at`,
          })).execute();
      }
      for (const [user, seq] of heads) this.#heads.set(user, seq);
      return plannedAll.filter((p) => !inserted.has(p.result.event.eventId));
    });
  }

  async #writeSideEffects(trx: Transaction<Database>, projected: ProjectedEvent, eventId: number): Promise<void> {
    const change = projected.groupChange;
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
    if (projected.callChange) await upsertCall(trx, projected.callChange, eventId);
    const read = projected.readCursor;
    if (read) {
      await trx.updateTable('conversation_state')
        .set({
          read_event_id: sql`max(read_event_id, ${read.upTo})`,
          unread: sql`(SELECT count(*) FROM inbox WHERE inbox.user_id = conversation_state.user_id
            AND inbox.conversation = conversation_state.conversation AND inbox.countable = 1
            AND inbox.event_id > max(conversation_state.read_event_id, ${read.upTo}))`,
        })
        .where('user_id', '=', read.user).where('conversation', '=', projected.conversation).execute();
    }
  }
}
