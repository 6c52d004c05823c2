import type { Kysely } from 'kysely';
import { ProtocolError } from '../../protocol/index.ts';
import type { Database } from './schema.ts';
import type { AppendListener, AppendResult, EventDraft, EventLog, InboxEntry, StoredEvent } from '../types.ts';
import { applyCallChange, applyGroupChange, project, type ProjectedEvent, type ProjectionLimits, type ProjectionState } from '../projector.ts';
import { GroupCommitQueue, type Pending } from './group-commit.ts';
import { lastEventIdIn, loadProjectionState } from './load-state.ts';
import { chunk, inboxHeads, writeItemOf, type BatchWriter, type WriteResult } from './append-writer.ts';

export interface EventLogOptions extends ProjectionLimits {
  /** Most drafts committed in one transaction. */
  maxBatch: number;
  /** Longest an ack cursor waits for a commit to ride along with. */
  cursorFlushMs: number;
}

type Planned = { pending: Pending<EventDraft, AppendResult>; result: AppendResult; projected: ProjectedEvent };
type InBatchDuplicate = { pending: Pending<EventDraft, AppendResult>; of: Planned };

// One batch committing in the writer and one waiting behind it: the writer never waits for this
// thread to resolve, deliver and plan between commits. More would only lengthen the queue.
const WRITES_IN_FLIGHT = 2;

function rowToStored(row: Database['events']): StoredEvent {
  return {
    eventId: row.id, kind: row.kind as StoredEvent['kind'], conversation: row.conversation, sender: row.sender,
    at: row.at, clientMsgId: row.client_msg_id, messageId: row.message_id, json: row.json,
  };
}

/**
 * The append-only log with fan-out-on-write inboxes. Appends are validated and projected here, in
 * log order, then written in group-commit batches by a BatchWriter (on this thread or its own).
 */
export class KyselyEventLog implements EventLog {
  readonly #db: Kysely<Database>;
  readonly #options: EventLogOptions;
  readonly #queue: GroupCommitQueue<EventDraft, AppendResult>;
  readonly #listeners: AppendListener[] = [];
  readonly #heads = new Map<string, number>();
  readonly #pendingCursors = new Map<string, { userId: string; deviceId: string; seq: number }>();
  /** Acked cursors not committed yet (pending or in a batch in flight), by user + device. */
  readonly #unsavedCursors = new Map<string, number>();
  #state: ProjectionState;
  /** The newest event id handed out by planning. */
  #lastEventId: number;
  #committedEventId: number;
  #cursorTimer: NodeJS.Timeout | undefined;
  readonly #writer: BatchWriter;
  /** Bumped by each failed batch: batches planned in an older epoch cannot succeed. */
  #epoch = 0;
  /** The outcome of the newest batch; the next one is applied after it. */
  #finishing: Promise<void> = Promise.resolve();
  #recovering: Promise<void> | undefined;

  private constructor(db: Kysely<Database>, options: EventLogOptions, state: ProjectionState, lastEventId: number, writer: BatchWriter) {
    this.#db = db;
    this.#writer = writer;
    this.#options = options;
    this.#state = state;
    this.#lastEventId = lastEventId;
    this.#committedEventId = lastEventId;
    this.#queue = new GroupCommitQueue(options.maxBatch, (batch) => this.#commit(batch), WRITES_IN_FLIGHT);
  }

  /** `db` serves reads; `writer` is the only writer of the log's tables. */
  static async open(db: Kysely<Database>, options: EventLogOptions, writer: BatchWriter): Promise<KyselyEventLog> {
    const state = await loadProjectionState(db);
    return new KyselyEventLog(db, options, state, await lastEventIdIn(db), writer);
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

  /** The newest committed event id (planned ones may be higher). */
  lastEventId(): number {
    return this.#committedEventId;
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
    if ((this.#unsavedCursors.get(key) ?? -1) < seq) this.#unsavedCursors.set(key, seq);
    if (!this.#cursorTimer) {
      this.#cursorTimer = setTimeout(() => {
        this.#cursorTimer = undefined;
        if (this.#pendingCursors.size > 0) this.#queue.kick();
      }, this.#options.cursorFlushMs);
      this.#cursorTimer.unref();
    }
  }

  /**
   * A device's acked cursor that is not in the database yet (it rides with the next commit), so
   * readers such as the push dispatcher's "already acked?" check never act on an older one.
   */
  unsavedCursor(userId: string, deviceId: string): number | undefined {
    return this.#unsavedCursors.get(`${userId}\u0000${deviceId}`);
  }

  /** Commit pending cursors now (shutdown). */
  async flushCursors(): Promise<void> {
    if (this.#pendingCursors.size > 0) this.#queue.kick();
    await this.#queue.flush();
  }

  /** Commit what is pending, then stop the writer. */
  async close(): Promise<void> {
    await this.flushCursors();
    await this.#writer.close();
  }

  cachedHeadSeq(userId: string): number | undefined {
    return this.#heads.get(userId);
  }

  async headSeq(userId: string): Promise<number> {
    await this.#loadHeads(this.#db, [userId]);
    return this.#heads.get(userId) ?? 0;
  }

  async readInbox(userId: string, after: number, limit: number): Promise<InboxEntry[]> {
    // Not beyond the head this thread knows: the writer thread may have committed rows whose
    // outcome is not applied here yet, and a device that got one by sync would ack a seq the
    // server does not know of (bad_cursor) before the live delivery path catches up.
    const head = await this.headSeq(userId);
    const rows = await this.#db.selectFrom('inbox as i')
      .innerJoin('events as e', 'e.id', 'i.event_id')
      .select(['i.seq', 'e.id', 'e.kind', 'e.conversation', 'e.sender', 'e.client_msg_id', 'e.message_id', 'e.at', 'e.json'])
      .where('i.user_id', '=', userId).where('i.seq', '>', after).where('i.seq', '<=', head)
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

  async #loadHeads(db: Kysely<Database>, users: string[]): Promise<void> {
    // A commit may have landed (and raised the head) while this read was queued.
    for (const [user, head] of await inboxHeads(db, users.filter((u) => !this.#heads.has(u)))) this.#raiseHead(user, head);
  }

  #raiseHead(user: string, seq: number): void {
    if ((this.#heads.get(user) ?? -1) < seq) this.#heads.set(user, seq);
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

  /**
   * Plan a batch now, in log order (validation, projection, event ids), hand it to the writer and
   * return at once: the queue plans the next batch while this one commits. Outcomes are then
   * applied strictly in batch order, so listeners see committed events in log order.
   */
  #commit(batch: Pending<EventDraft, AppendResult>[]): Promise<void> {
    // Never plan on state that is being reloaded after a failure.
    if (this.#recovering) return this.#recovering.then(() => this.#commit(batch));
    const planned: Planned[] = [];
    const inBatchDuplicates: InBatchDuplicate[] = [];
    const plannedByKey = new Map<string, Planned>();
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
        const projected = project(draft, this.#lastEventId + 1, at, this.#state, this.#options);
        this.#lastEventId += 1;
        if (projected.groupChange) applyGroupChange(this.#state, projected.groupChange);
        if (projected.callChange) applyCallChange(this.#state, projected.callChange);
        const event: StoredEvent = {
          eventId: this.#lastEventId, kind: projected.kind, conversation: projected.conversation, sender: projected.sender,
          at, clientMsgId: projected.clientMsgId, messageId: projected.messageId, json: projected.json,
        };
        const plan = { pending, result: { event, seqs: new Map(), duplicate: false }, projected };
        planned.push(plan);
        if (key) plannedByKey.set(key, plan);
      } catch (error) {
        pending.reject(error);
      }
    }
    const cursors = [...this.#pendingCursors.values()];
    this.#pendingCursors.clear();
    // Resends of messages committed earlier are found by the unique index at insert time, so the
    // common path (no resend) costs no lookup at all.
    const written: Promise<WriteResult> = planned.length === 0 && cursors.length === 0
      ? Promise.resolve({ resent: [], seqs: [] })
      : this.#writer.write({
        items: planned.map(({ result: { event }, projected }) => writeItemOf({
          id: event.eventId, kind: event.kind, conversation: event.conversation, sender: event.sender,
          client_msg_id: event.clientMsgId, message_id: event.messageId, at: event.at, json: event.json,
        }, projected)),
        cursors,
      });
    const epoch = this.#epoch;
    const previous = this.#finishing;
    const finished = written.then(
      async (outcome) => {
        for (const c of cursors) {
          const key = `${c.userId}\u0000${c.deviceId}`;
          if (this.#unsavedCursors.get(key) === c.seq) this.#unsavedCursors.delete(key);
        }
        await previous;
        await this.#finish(epoch, planned, inBatchDuplicates, outcome);
      },
      async (error: unknown) => { await previous; await this.#fail(epoch, [...planned, ...inBatchDuplicates], error); },
    );
    this.#finishing = finished.catch(() => undefined);
    return finished;
  }

  async #finish(epoch: number, plannedAll: Planned[], inBatchDuplicates: InBatchDuplicate[], { resent, seqs }: WriteResult): Promise<void> {
    if (epoch !== this.#epoch) {
      // Planned on state that a failed earlier batch invalidated; the writer refused it too.
      await this.#fail(epoch, [...plannedAll, ...inBatchDuplicates], new Error('an earlier batch failed'));
      return;
    }
    plannedAll.forEach(({ projected, result }, i) => projected.recipients.forEach(({ user }, r) => {
      const seq = seqs[i]?.[r];
      if (seq === undefined) return;
      result.seqs.set(user, seq);
      this.#raiseHead(user, seq);
    }));
    const resentSet = new Set(resent);
    const planned = plannedAll.filter((_, i) => !resentSet.has(i));
    const results = planned.map((p) => p.result);
    for (const r of results) this.#committedEventId = Math.max(this.#committedEventId, r.event.eventId);
    if (results.length > 0) for (const listener of this.#listeners) listener(results);
    for (const p of planned) p.pending.resolve(p.result);
    for (const i of resent) {
      const plan = plannedAll[i]!;
      const draft = plan.pending.input as Extract<EventDraft, { kind: 'message' }>;
      await this.#duplicateResult(draft.sender, draft.clientMsgId).then((r) => plan.pending.resolve(r), (e: unknown) => plan.pending.reject(e));
    }
    for (const d of inBatchDuplicates) {
      const sender = d.of.result.event.sender;
      d.pending.resolve({ event: d.of.result.event, seqs: new Map([[sender, d.of.result.seqs.get(sender) ?? 0]]), duplicate: true });
    }
  }

  /**
   * The batch rolled back. The first failure of an epoch reloads what planning assumed (group and
   * call state, the last event id, cached heads) and lets the writer accept batches again; batches
   * planned before that belong to the old epoch and fail with it. Appenders hear of the failure
   * only after the reload, so a retry is planned on the recovered state.
   */
  async #fail(epoch: number, pendings: Array<{ pending: Pending<EventDraft, AppendResult> }>, error: unknown): Promise<void> {
    if (epoch === this.#epoch) {
      this.#epoch += 1;
      this.#recovering = this.#recover();
      await this.#recovering;
      this.#recovering = undefined;
    }
    const failure = error instanceof ProtocolError ? error : new ProtocolError('internal', String(error));
    for (const p of pendings) p.pending.reject(failure);
  }

  async #recover(): Promise<void> {
    this.#state = await loadProjectionState(this.#db).catch(() => this.#state);
    const last = await lastEventIdIn(this.#db).catch(() => undefined);
    if (last !== undefined) this.#lastEventId = this.#committedEventId = last;
    this.#heads.clear();
    this.#writer.reset();
  }
}
