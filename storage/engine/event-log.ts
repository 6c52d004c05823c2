import { ProtocolError, callConversation, groupConversation } from '../../protocol/index.ts';
import type {
  AppendListener, AppendResult, DeviceCursors, EventDraft, EventLog, InboxEntry, LogBackend, StoredEvent, WriteResult,
} from '../contract.ts';
import { eventJson } from '../contract.ts';
import { applyCallChange, applyGroupChange, newMessageId, project, type ProjectedEvent, type ProjectionLimits, type ProjectionState } from '../domain/projector.ts';
import { toWriteItem } from '../write-item.ts';
import { GroupCommitQueue, type Pending } from './group-commit.ts';
import { draftFromStored } from '../domain/replay.ts';
import { CursorBuffer } from './cursor-buffer.ts';

export interface EventLogOptions extends ProjectionLimits {
  /** Most drafts committed in one transaction. */
  maxBatch: number;
  /** While the oldest queued append has waited longer than this, new ones are refused `overloaded`; 0 = no bound. */
  maxAppendWaitMs: number;
  /** Longest an ack cursor waits for a commit to ride along with. */
  cursorFlushMs: number;
  /** How many batches may be written at once (planned in order, outcomes applied in order). */
  writesInFlight: number;
  /** A commit listener threw: the append still completes; the server logs and counts it. */
  onListenerError(listener: string, error: unknown): void;
}

/**
 * With a backend that re-projects on shared state, the planner's cache may be behind another
 * process: what it refuses for these reasons goes to the backend all the same, which decides.
 */
const CACHE_REFUSALS: ReadonlySet<string> = new Set([
  'not_group_member', 'group_not_found', 'already_member', 'group_exists', 'group_full', 'group_invite_only', 'not_group_admin',
  'not_group_owner', 'group_owner_must_transfer', 'no_join_request', 'call_ended', 'call_not_invitee', 'call_not_inviter', 'forbidden',
]);

function conversationOf(draft: EventDraft): string {
  if ('conversation' in draft) return draft.conversation;
  if ('groupId' in draft) return groupConversation(draft.groupId);
  return callConversation(draft.callId);
}

/** A draft the cache refused, sent for the backend to project (its body and recipients are the backend's). */
function unplanned(draft: EventDraft, at: number): ProjectedEvent {
  return {
    kind: draft.kind, at, conversation: conversationOf(draft), sender: draft.sender,
    clientMsgId: draft.kind === 'message' ? draft.clientMsgId : null, messageId: draft.kind === 'message' ? newMessageId(at) : null,
    body: '{}', recipients: [],
  };
}

type Planned = { pending: Pending<EventDraft, AppendResult>; projected: ProjectedEvent; refusal?: unknown; result?: AppendResult };

/**
 * The dialect-free log engine: appends are validated and projected here, in log order, and
 * written in group-commit batches by the dialect's LogBackend, which assigns event ids and inbox
 * seqs. It also owns the head cache used at the sync/live seam, ack-cursor coalescing, and
 * recovery after a failed batch.
 */
export class EventLogEngine implements EventLog, DeviceCursors {
  readonly #backend: LogBackend;
  readonly #options: EventLogOptions;
  readonly #queue: GroupCommitQueue<EventDraft, AppendResult>;
  readonly #listeners: Array<{ name: string; listener: AppendListener }> = [];
  readonly #heads = new Map<string, number>();
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  readonly #cursors: CursorBuffer;
  #state: ProjectionState;
  #committedEventId: number;
  /** Bumped by each failed batch: batches planned in an older epoch cannot succeed. */
  #epoch = 0;
  /** The outcome of the newest batch; the next one is applied after it. */
  #finishing: Promise<void> = Promise.resolve();
  #recovering: Promise<void> | undefined;
  /**
   * The answer to each message appended and not yet answered, by sender and clientMsgId. A client
   * that resends before its ack (a slow database, a long queue) gets the first send's answer (as a
   * duplicate, LOG-2) instead of a second place in the queue: under load most of the queue would
   * otherwise be resends, each a whole write (every recipient's head locked) to be found a duplicate.
   */
  readonly #unanswered = new Map<string, Promise<AppendResult>>();

  private constructor(backend: LogBackend, options: EventLogOptions, state: ProjectionState, lastEventId: number) {
    this.#backend = backend;
    this.#options = options;
    this.#state = state;
    this.#committedEventId = lastEventId;
    this.#cursors = new CursorBuffer(options.cursorFlushMs, () => this.#queue.kick());
    this.#queue = new GroupCommitQueue(options.maxBatch, (batch) => this.#commit(batch), options.writesInFlight);
  }

  static async open(backend: LogBackend, options: EventLogOptions): Promise<EventLogEngine> {
    const [state, last] = await Promise.all([backend.loadProjectionState(), backend.lastEventId()]);
    return new EventLogEngine(backend, options, state, last);
  }

  /** Read-only view of group membership and live calls, current as of the last commit. */
  get projection(): ProjectionState {
    return this.#state;
  }

  append(draft: EventDraft): Promise<AppendResult> {
    if (draft.kind !== 'message') return this.#admitted() ?? this.#queue.submit(draft);
    const { sender } = draft;
    const key = `${sender}\u0000${draft.clientMsgId}`;
    const first = this.#unanswered.get(key);
    if (first) return first.then((r) => ({ event: r.event, seqs: new Map([[sender, r.seqs.get(sender) ?? 0]]), duplicate: true }));
    const refused = this.#admitted();
    if (refused) return refused;
    const answer = this.#queue.submit(draft);
    this.#unanswered.set(key, answer);
    const forget = () => {
      if (this.#unanswered.get(key) === answer) this.#unanswered.delete(key);
    };
    answer.then(forget, forget);
    return answer;
  }

  /**
   * Admission: a queue whose oldest append has waited past maxAppendWaitMs is not keeping up, and
   * letting it grow only makes every later answer later (clients time out and resend, adding more).
   * Such appends are refused before anything is stored; undefined when the append is admitted.
   */
  #admitted(): Promise<never> | undefined {
    const bound = this.#options.maxAppendWaitMs;
    if (bound <= 0) return undefined;
    const waited = this.#queue.oldestWaitMs();
    if (waited <= bound) return undefined;
    // Spread the retries: clients told the same moment would come back together.
    const retryAfterMs = Math.round(bound / 2 + Math.random() * bound);
    return Promise.reject(new ProtocolError('overloaded', `Writes are queued for ${Math.round(waited)} ms (storage.maxAppendWaitMs ${bound}); retry after ${retryAfterMs} ms.`, { retryAfterMs }));
  }

  onCommitted(name: string, listener: AppendListener): void {
    this.#listeners.push({ name, listener });
  }

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
  saveAckedSeq(userId: string, deviceId: string, seq: number): void {
    this.#cursors.save(userId, deviceId, seq);
  }

  async ackedSeq(userId: string, deviceId: string): Promise<number> {
    const stored = await this.#backend.storedCursor(userId, deviceId);
    return Math.max(stored, this.#cursors.unsaved(userId, deviceId) ?? 0);
  }

  ackedSeqSaved(userId: string, deviceId: string): Promise<void> {
    return this.#cursors.saved(userId, deviceId);
  }

  /** Commit pending cursors now (shutdown). */
  async flushCursors(): Promise<void> {
    if (this.#cursors.pendingCount > 0) this.#queue.kick();
    await this.#queue.flush();
  }

  /** Commit what is pending, then close the backend. */
  async close(): Promise<void> {
    await this.flushCursors();
    this.#cursors.stop();
    await this.#backend.close();
  }

  cachedHeadSeq(userId: string): number | undefined {
    return this.#heads.get(userId);
  }

  async headSeq(userId: string): Promise<number> {
    if (!this.#heads.has(userId)) {
      // A commit may have landed (and raised the head) while this read was queued.
      for (const [user, head] of await this.#backend.inboxHeads([userId])) this.#raiseHead(user, head);
    }
    return this.#heads.get(userId) ?? 0;
  }

  async readInbox(userId: string, after: number, limit: number): Promise<InboxEntry[]> {
    // Not beyond the head this process knows: a writer may have committed rows whose outcome is
    // not applied here yet, and a device that got one by sync would ack a seq the server does not
    // know of (bad_cursor) before the live delivery path catches up.
    const head = await this.headSeq(userId);
    return this.#backend.readInbox(userId, after, head, limit);
  }

  eventsByIds(ids: readonly number[]): Promise<Map<number, StoredEvent>> {
    return this.#backend.eventsByIds(ids);
  }

  eventByMessageId(messageId: string): Promise<StoredEvent | undefined> {
    return this.#backend.eventByMessageId(messageId);
  }

  recipientsAmong(event: StoredEvent, users: readonly string[]): Promise<Map<string, number>> {
    return this.#backend.recipientsAmong(event, users);
  }

  observe(committed: readonly AppendResult[]): void {
    for (const result of committed) {
      for (const [user, seq] of result.seqs) this.#raiseHead(user, seq);
      this.#committedEventId = Math.max(this.#committedEventId, result.event.eventId);
      const { event } = result;
      if (event.kind === 'message' || event.kind === 'read') continue;
      try {
        const draft = draftFromStored(event.kind, event.sender, event.conversation, event.clientMsgId, event.json);
        const projected = project(draft, event.at, this.#state, { maxGroupMembers: Number.POSITIVE_INFINITY, replay: true }, event.messageId ?? undefined);
        if (projected.groupChange) applyGroupChange(this.#state, projected.groupChange);
        if (projected.callChange) applyCallChange(this.#state, projected.callChange);
      } catch {
        // The cache disagreed with another node's commit: read it again.
        void this.#reloadState();
      }
    }
  }

  async freshHeadSeq(userId: string): Promise<number> {
    return (await this.freshHeadSeqs([userId])).get(userId) ?? 0;
  }

  async freshHeadSeqs(userIds: readonly string[]): Promise<Map<string, number>> {
    for (const [user, head] of await this.#backend.inboxHeads(userIds)) this.#raiseHead(user, head);
    return new Map(userIds.map((user) => [user, this.#heads.get(user) ?? 0]));
  }

  async freshLastEventId(): Promise<number> {
    return Math.max(this.#committedEventId, await this.#backend.lastEventId());
  }

  #raiseHead(user: string, seq: number): void {
    if ((this.#heads.get(user) ?? -1) < seq) this.#heads.set(user, seq);
  }

  /**
   * Plan a batch now, in log order (validation, projection), hand it to the backend and return at
   * once: the queue plans the next batch while this one commits. Outcomes are then applied
   * strictly in batch order, so listeners see committed events in log order.
   */
  #commit(batch: Pending<EventDraft, AppendResult>[]): Promise<void> {
    // Never plan on state that is being reloaded after a failure.
    if (this.#recovering) return this.#recovering.then(() => this.#commit(batch));
    // Each message is in at most one pending append (append() answers its resends), so a batch
    // never holds one twice.
    const planned: Planned[] = [];
    const at = Date.now();
    for (const pending of batch) {
      const draft = pending.input;
      try {
        const projected = project(draft, at, this.#state, this.#options);
        if (projected.groupChange) applyGroupChange(this.#state, projected.groupChange);
        if (projected.callChange) applyCallChange(this.#state, projected.callChange);
        planned.push({ pending, projected });
      } catch (error) {
        if (this.#backend.reprojects && error instanceof ProtocolError && CACHE_REFUSALS.has(error.code)) {
          planned.push({ pending, projected: unplanned(draft, at), refusal: error });
        } else if (draft.kind === 'message') void this.#originalOrReject(pending, draft, error);
        else pending.reject(error);
      }
    }
    const cursors = this.#cursors.take();
    const written: Promise<WriteResult> = planned.length === 0 && cursors.length === 0
      ? Promise.resolve({ items: [] })
      : this.#backend.write({ items: planned.map((p) => toWriteItem(p.projected, this.#backend.reprojects ? p.pending.input : undefined)), cursors });
    const epoch = this.#epoch;
    const plannedOn = this.#state;
    const previous = this.#finishing;
    const finished = written.then(
      async (outcome) => {
        this.#cursors.committed(cursors);
        await previous;
        await this.#finish(epoch, planned, outcome, plannedOn);
      },
      async (error: unknown) => {
        this.#cursors.failed(cursors);
        await previous;
        await this.#fail(epoch, planned, error);
      },
    );
    this.#finishing = finished.catch(() => undefined);
    return finished;
  }

  async #finish(epoch: number, planned: Planned[], outcome: WriteResult, plannedOn: ProjectionState): Promise<void> {
    if (epoch !== this.#epoch) {
      // Planned on state that a failed earlier batch invalidated; the writer refused it too.
      await this.#fail(epoch, planned, new Error('an earlier batch failed'));
      return;
    }
    // A reload since planning may have read the database before this batch was in it: the cache
    // would read the batch's group and call changes as never made (a call timed out here would
    // ring again, and be timed out again). It is read once more now that they are in. Applying
    // them again instead could undo a newer change planned on the reloaded state.
    const reread = this.#state !== plannedOn && planned.some((p) => p.projected.groupChange !== undefined || p.projected.callChange !== undefined);
    const committed: AppendResult[] = [];
    const resent: Planned[] = [];
    const refused: Array<{ pending: Pending<EventDraft, AppendResult>; draft: Extract<EventDraft, { kind: 'message' }>; refusal: ProtocolError }> = [];
    let stale = false;
    for (let i = 0; i < planned.length; i++) {
      const plan = planned[i]!;
      const written = outcome.items[i];
      if (!written || 'resent' in written) {
        resent.push(plan);
        continue;
      }
      if ('rejected' in written) {
        // Refused on the shared state: what planning assumed here was stale.
        stale = true;
        const refusal = new ProtocolError(written.rejected.code, written.rejected.message);
        const draft = plan.pending.input;
        if (draft.kind === 'message') refused.push({ pending: plan.pending, draft, refusal });
        else plan.pending.reject(refusal);
        continue;
      }
      if (plan.refusal !== undefined && !written.projected) {
        // The backend wrote what it was not asked to project: it has no say on shared state.
        stale = true;
        plan.pending.reject(plan.refusal);
        continue;
      }
      if (written.projected) {
        plan.projected = written.projected;
        if (written.projected.groupChange) applyGroupChange(this.#state, written.projected.groupChange);
        if (written.projected.callChange) applyCallChange(this.#state, written.projected.callChange);
      }
      const { projected } = plan;
      const event: StoredEvent = {
        eventId: written.eventId, kind: projected.kind, conversation: projected.conversation, sender: projected.sender,
        at: projected.at, clientMsgId: projected.clientMsgId, messageId: projected.messageId, json: eventJson(written.eventId, projected.body),
      };
      const seqs = new Map<string, number>();
      const { recipients } = projected;
      for (let r = 0; r < recipients.length; r++) {
        const user = recipients[r]!.user;
        const seq = written.seqs[r]!;
        seqs.set(user, seq);
        this.#raiseHead(user, seq);
      }
      if (written.eventId > this.#committedEventId) this.#committedEventId = written.eventId;
      plan.result = { event, seqs, duplicate: false };
      committed.push(plan.result);
    }
    if (stale || reread) await this.#reloadState();
    if (committed.length > 0) this.#notify(committed);
    for (const plan of planned) if (plan.result) plan.pending.resolve(plan.result);
    for (const r of refused) await this.#originalOrReject(r.pending, r.draft, r.refusal);
    for (const plan of resent) {
      const draft = plan.pending.input as Extract<EventDraft, { kind: 'message' }>;
      await this.#backend.originalOf(draft.sender, draft.clientMsgId).then((r) => plan.pending.resolve(r), (e: unknown) => plan.pending.reject(e));
    }
  }

  /**
   * LOG-2: a message refused where it stands in the log (its sender left the group since, say)
   * may be a resend of one committed before: then the answer is the original, not the refusal.
   */
  async #originalOrReject(pending: Pending<EventDraft, AppendResult>, draft: Extract<EventDraft, { kind: 'message' }>, refusal?: unknown): Promise<void> {
    try {
      pending.resolve(await this.#backend.originalOf(draft.sender, draft.clientMsgId));
    } catch (lookup) {
      pending.reject(refusal ?? lookup);
    }
  }

  /** Each listener runs on its own: one that throws is reported and the others still run. */
  #notify(committed: readonly AppendResult[]): void {
    for (const { name, listener } of this.#listeners) {
      try {
        listener(committed);
      } catch (error) {
        try {
          this.#options.onListenerError(name, error);
        } catch {
          // Reporting must never be what leaves an append unanswered.
        }
      }
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

  /**
   * The planner's state from the database again (after the shared state refused something it
   * allowed, or another node's commit did not fit the cache). One read at a time: requests made
   * while one runs are answered by one more read after it, not by one read each (a burst of
   * misfits would otherwise read every group's members once per misfit).
   */
  #reloadState(): Promise<void> {
    if (this.#reloading) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    const run = async () => {
      do {
        this.#reloadAgain = false;
        this.#state = await this.#backend.loadProjectionState().catch(() => this.#state);
      } while (this.#reloadAgain);
    };
    this.#reloading = run().finally(() => { this.#reloading = undefined; });
    return this.#reloading;
  }

  async #recover(): Promise<void> {
    this.#state = await this.#backend.loadProjectionState().catch(() => this.#state);
    const last = await this.#backend.lastEventId().catch(() => undefined);
    if (last !== undefined) this.#committedEventId = last;
    this.#heads.clear();
    this.#backend.reset();
  }
}
