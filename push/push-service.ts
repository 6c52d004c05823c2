import { createHash } from 'node:crypto';
import type { AppendResult, NewPushJob, PushBinding } from '../storage/index.ts';
import { chooseCarriers } from './carriers.ts';
import { isPushable, pushKindFor, type PushKind } from './decide.ts';
import { PushDispatcher } from './dispatcher.ts';
import { followUpsOf, hasFollowUps } from './follow-ups.ts';
import { deviceKey, groupBy } from './grouping.ts';
import type { PushDeps, PushServiceOptions } from './options.ts';

/** Offline reasons after which a device must get nothing (DEV-4, DEV-6) or will be back at once. */
const NO_REPLAY = new Set(['logout', 'kicked', 'replaced', 'server_shutdown']);

/** The lane of commit-triggered work; device lanes are named by deviceKey(). */
const COMMIT_LANE = '\u0000commits';

/** Stable per (user, device, registration kind): re-registering a refreshed token keeps the PushID (DEV-1). */
export function pushIdFor(userId: string, deviceId: string, registration: string): string {
  return `pid_${createHash('sha256').update(`${userId}\u0000${deviceId}\u0000${registration}`).digest('base64url').slice(0, 22)}`;
}

/**
 * The trigger (MSG-1, MSG-2, MSG-4, ON-3): turns "event appended" and "device offline" into
 * outbox jobs for devices that are offline and bound to the recipient, and cancels them when
 * the device comes back. Knows nothing of sockets: presence arrives through DevicePresence.
 */
export class PushService {
  readonly dispatcher: PushDispatcher;
  readonly #deps: PushDeps;
  readonly #options: PushServiceOptions;
  /** The tail of each lane's work (see #serial); a lane is dropped once its work is done. */
  readonly #lanes = new Map<string, Promise<void>>();
  /** Commits waiting at the end of the commit lane, not started yet: later commits join them. */
  #tailCommitted: AppendResult[] | undefined;
  #startupTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  readonly #wakeRetries = new Set<() => void>();
  /** Device work that changes which bindings are active (login activation, logout), not done yet. */
  readonly #bindingChanges = new Set<Promise<void>>();
  /** Pieces of trigger work holding a slot now (#inSlot), and the wakers of pieces waiting for one. */
  #running = 0;
  readonly #waitingForSlot: Array<() => void> = [];

  constructor(deps: PushDeps, options: PushServiceOptions) {
    this.#deps = deps;
    this.#options = options;
    this.dispatcher = new PushDispatcher(deps, options, (job, binding, reason) => this.#fallBack(job, binding, reason));
  }

  /**
   * Work runs in lanes, each in order: a device's offline replay, its online cancel and its
   * logout apply in the order they happened, and commits are handled in log order. Lanes run side
   * by side: with one lane for everything, each piece waited for the commit of the one before
   * it, and under load offline replays ran seconds after the device left (a third of the pushes
   * owed in the 10-minute load run found the device back already). Across lanes one order is
   * kept: commit work waits for the logins and logouts queued before it (their binding changes).
   * Nothing else needs one: job keys make every enqueue idempotent, and the dispatcher re-checks
   * presence, binding and ack cursor before each send.
   *
   * Work that fails (the database or the presence directory is unreachable) is retried, in place,
   * until it succeeds or `triggerRetryMs` has passed: every piece is idempotent (job keys), and
   * dropping it would lose the pushes of events that were stored.
   */
  #serial(lane: string, label: string, work: () => Promise<void>, changesBindings = false): void {
    let after = this.#lanes.get(lane) ?? Promise.resolve();
    if (lane === COMMIT_LANE) {
      this.#tailCommitted = undefined;
      // DEV-4..6: a commit after a login or a logout is planned on the bindings that login or
      // logout left, or a message sent after a logout could be queued (and, before the
      // deactivation commits, sent) to the binding it deactivates.
      if (this.#bindingChanges.size > 0) after = Promise.all([after, ...this.#bindingChanges]).then(() => undefined);
    }
    // The wait happens before a slot is taken, so waiting work never holds one.
    const queuedAt = Date.now();
    const tail = after.then(() => this.#inSlot(async () => {
      const startedAt = Date.now();
      await this.#untilDone(label, work);
      this.#deps.observer?.triggerDone?.(label, startedAt - queuedAt, Date.now() - startedAt);
    }));
    this.#lanes.set(lane, tail);
    if (changesBindings) this.#bindingChanges.add(tail);
    void tail.then(() => {
      this.#bindingChanges.delete(tail);
      if (this.#lanes.get(lane) === tail) this.#lanes.delete(lane);
    });
  }

  /**
   * At most `triggerConcurrency` pieces run at a time: a storm of disconnects (a node lost) would
   * otherwise read every device's backlog at once.
   */
  async #inSlot(work: () => Promise<void>): Promise<void> {
    if (this.#running >= this.#options.triggerConcurrency) await new Promise<void>((resolve) => this.#waitingForSlot.push(resolve));
    else this.#running++;
    try {
      await work();
    } finally {
      const next = this.#waitingForSlot.shift();
      if (next) next();
      else this.#running--;
    }
  }

  async #untilDone(label: string, work: () => Promise<void>): Promise<void> {
    const giveUpAt = Date.now() + this.#options.triggerRetryMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await work();
        return;
      } catch (error) {
        const last = this.#stopping || Date.now() >= giveUpAt;
        this.#deps.logger.error({ err: error, work: label, attempt }, last ? 'push trigger failed; giving up on this work' : 'push trigger failed; retrying');
        this.#deps.observer?.triggerFailed?.(label, last);
        if (last) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** Math.min(attempt - 1, 16)));
          const wake = () => { clearTimeout(timer); this.#wakeRetries.delete(wake); resolve(); };
          this.#wakeRetries.add(wake);
        });
      }
    }
  }

  async start(): Promise<void> {
    await this.dispatcher.start();
    // Crash recovery: devices that were online when the server stopped and do not come back
    // within the grace period are offline; replay what they never acked.
    this.#startupTimer = setTimeout(() => this.#serial('startup-recovery', 'startup-recovery', () => this.#recoverAfterStart()), this.#options.startupGraceMs);
    this.#startupTimer.unref();
    this.#pruneTimer = setInterval(() => {
      // Missed prunes are made up by the next one.
      this.#deps.store.pruneTrace(Date.now() - this.#options.traceRetentionMs).catch((error: unknown) => this.#deps.logger.warn({ err: error }, 'pruning the push trace failed'));
    }, this.#options.tracePruneEveryMs);
    this.#pruneTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const wake of [...this.#wakeRetries]) wake();
    if (this.#startupTimer) clearTimeout(this.#startupTimer);
    if (this.#pruneTimer) clearInterval(this.#pruneTimer);
    await this.settled();
    await this.dispatcher.stop();
  }

  /** Resolves when all trigger work queued so far is done (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#lanes.size > 0) await Promise.all(this.#lanes.values());
  }

  onCommitted(results: readonly AppendResult[]): void {
    const relevant = results.filter((r) => hasFollowUps(r) || [...r.seqs.keys()].some((user) => isPushable(r.event, user)));
    if (relevant.length === 0) return;
    // Under load the chain falls behind; one pass (one binding read, one outbox commit) for all
    // commits queued back to back keeps it from falling further behind.
    if (this.#tailCommitted) {
      this.#tailCommitted.push(...relevant);
      return;
    }
    const batch = [...relevant];
    this.#serial(COMMIT_LANE, 'committed', () => {
      if (this.#tailCommitted === batch) this.#tailCommitted = undefined;
      return this.#enqueueForOffline(batch).then(() => this.#enqueueFollowUps(batch));
    });
    this.#tailCommitted = batch;
  }

  onDeviceOffline(e: { userId: string; deviceId: string; reason: string; ackedSeq: number }): void {
    if (NO_REPLAY.has(e.reason)) return;
    this.#serial(deviceKey(e.userId, e.deviceId), 'offline', () => this.#replay(e.userId, e.deviceId, e.ackedSeq, `offline:${e.reason}`));
  }

  /**
   * Login activates this user's registrations on the device and deactivates any other user's
   * there (DEV-4), and cancels pending pushes: the device now gets its events over the socket.
   */
  onDeviceOnline(e: { userId: string; deviceId: string }): void {
    this.#serial(deviceKey(e.userId, e.deviceId), 'online', async () => {
      await this.#deps.store.activateDevice(e.userId, e.deviceId);
      await this.cancelPending(e.deviceId, 'online');
    }, true);
  }

  onDeviceLoggedOut(e: { userId: string; deviceId: string; reason: string }): void {
    this.#serial(deviceKey(e.userId, e.deviceId), 'logged_out', async () => {
      await this.#deps.store.deactivateDevice(e.userId, e.deviceId);
      await this.cancelPending(e.deviceId, e.reason === 'kicked' ? 'kicked' : 'logged_out');
    }, true);
  }

  async cancelPending(deviceId: string, reason: string, pushIds?: readonly string[]): Promise<void> {
    await this.#deps.store.cancelPendingForDevice(deviceId, reason, pushIds, (job) => ({
      eventId: job.eventId, messageId: null, userId: job.userId, deviceId, pushId: job.pushId, decision: 'cancelled', reason,
    }));
  }

  /** Message pushes wait out the collapse window (PAY-4), badge updates theirs (a burst of reads is one update); call pushes go at once. */
  #job(binding: PushBinding, userId: string, eventId: number, seq: number, conversation: string, kind: PushKind): NewPushJob {
    const wait = kind === 'message' ? this.#options.collapseWindowMs : kind === 'badge_update' ? this.#options.badgeUpdateWindowMs : 0;
    const notBefore = wait > 0 ? Date.now() + wait : undefined;
    return { pushId: binding.pushId, userId, deviceId: binding.deviceId, eventId, seq, conversation, kind, ...(notBefore ? { notBefore } : {}) };
  }

  /** The carrier of one device for one event: a job for the best registration, with why it was chosen. */
  #jobFor(deviceBindings: readonly PushBinding[], userId: string, eventId: number, seq: number, conversation: string, kind: PushKind): { job: NewPushJob; why: string } | undefined {
    const { carriers: [chosen], why } = chooseCarriers(deviceBindings, kind, (credential) => this.#deps.providers.canSend(credential));
    return chosen ? { job: this.#job(chosen, userId, eventId, seq, conversation, kind), why } : undefined;
  }

  async #enqueue(planned: Array<{ job: NewPushJob; why: string }>, messageIds: Map<number, string | null>, reason: string): Promise<void> {
    const why = new Map(planned.map((p) => [p.job, p.why]));
    const inserted = await this.#deps.store.enqueue(planned.map((p) => p.job), Date.now(), (job) => ({
      eventId: job.eventId, messageId: messageIds.get(job.eventId) ?? null, userId: job.userId, deviceId: job.deviceId, pushId: job.pushId,
      decision: 'queued', reason, detail: why.get(job) ?? null,
    }));
    if (inserted.length > 0) this.dispatcher.wake();
  }

  async #enqueueForOffline(results: readonly AppendResult[]): Promise<void> {
    const recipients = new Set<string>();
    for (const r of results) for (const user of r.seqs.keys()) if (isPushable(r.event, user)) recipients.add(user);
    const bindings = await this.#deps.store.bindingsForUsers([...recipients]);
    const online = await this.#deps.presence.onlineAmong(bindings);
    const devicesOf = new Map<string, Map<string, PushBinding[]>>();
    for (const [user, mine] of groupBy(bindings, (b) => b.userId)) devicesOf.set(user, groupBy(mine, (b) => b.deviceId));
    const planned: Array<{ job: NewPushJob; why: string }> = [];
    const messageIds = new Map<number, string | null>();
    for (const r of results) {
      messageIds.set(r.event.eventId, r.event.messageId);
      for (const [user, seq] of r.seqs) {
        const kind = pushKindFor(r.event, user);
        if (!kind) continue;
        // Neither recipients with no registration nor online devices get a trace row: on a busy
        // server those rows outnumbered the deliveries' own writes. `why` derives both from the
        // absence of rows (no_binding; online = acked over the socket) (docs/PUSH.md).
        for (const [deviceId, deviceBindings] of devicesOf.get(user) ?? []) {
          if (online.has(deviceKey(user, deviceId))) continue;
          const job = this.#jobFor(deviceBindings, user, r.event.eventId, seq, r.event.conversation, kind);
          if (job) planned.push(job);
        }
      }
    }
    await this.#enqueue(planned, messageIds, 'offline');
  }

  /** Silent pushes to devices that were pushed before: badges after a read elsewhere, the end of a ring. */
  async #enqueueFollowUps(results: readonly AppendResult[]): Promise<void> {
    const owed = await followUpsOf(results.filter(hasFollowUps), this.#deps);
    const planned: Array<{ job: NewPushJob; why: string }> = [];
    for (const f of owed) {
      const job = this.#jobFor(f.bindings, f.userId, f.event.eventId, f.seq, f.event.conversation, f.kind);
      if (job) planned.push(job);
    }
    for (const [reason, jobs] of groupBy(planned, (p) => (p.job.kind === 'badge_update' ? 'read_elsewhere' : 'call_over'))) {
      await this.#enqueue(jobs, new Map(), reason);
    }
  }

  /** MSG-4: everything after the device's acked cursor, pushed once per (device, event). */
  async #replay(userId: string, deviceId: string, ackedSeq: number, reason: string): Promise<void> {
    if (await this.#deps.presence.isOnline(userId, deviceId)) return;
    const bindings = await this.#deps.store.bindingsForDevice(userId, deviceId);
    if (bindings.length === 0) return;
    const planned: Array<{ job: NewPushJob; why: string }> = [];
    const messageIds = new Map<number, string | null>();
    // The newest `replayLimit` pushes (not inbox entries: reads and membership changes push
    // nothing), found by walking back from the head a window at a time.
    const limit = this.#options.replayLimit;
    const window = Math.max(limit, 200);
    // From the database, not this node's cache: the cache follows other nodes' commits through
    // publications that may come late or never, and the committing node, which saw the device
    // online, left these events to this replay.
    let upper = await this.#deps.log.freshHeadSeq(userId);
    while (upper > ackedSeq && planned.length < limit) {
      const from = Math.max(ackedSeq, upper - window);
      const found: Array<{ job: NewPushJob; why: string }> = [];
      for (const { seq, event } of await this.#deps.log.readInbox(userId, from, upper - from)) {
        const kind = pushKindFor(event, userId);
        if (!kind) continue;
        const job = this.#jobFor(bindings, userId, event.eventId, seq, event.conversation, kind);
        if (!job) continue;
        messageIds.set(event.eventId, event.messageId);
        found.push(job);
      }
      planned.unshift(...found.slice(Math.max(0, found.length - (limit - planned.length))));
      upper = from;
    }
    await this.#enqueue(planned, messageIds, reason);
  }

  /**
   * The carrier of a job reported its token dead (its binding is gone now): the same event goes
   * to the device's next carrier, if it has one (an FCM token behind a dead OEM token), once.
   */
  async #fallBack(job: { userId: string; deviceId: string; eventId: number; seq: number; conversation: string; kind: PushKind }, dead: PushBinding, why: string): Promise<void> {
    const rest = (await this.#deps.store.bindingsForDevice(job.userId, job.deviceId)).filter((b) => b.pushId !== dead.pushId);
    const next = this.#jobFor(rest, job.userId, job.eventId, job.seq, job.conversation, job.kind);
    if (!next) return;
    const messageId = (await this.#deps.log.eventsByIds([job.eventId])).get(job.eventId)?.messageId ?? null;
    await this.#enqueue([{ job: next.job, why: `${next.why}; fallback: ${dead.registration} ${why}` }], new Map([[job.eventId, messageId]]), 'fallback');
  }

  async #recoverAfterStart(): Promise<void> {
    let after = '';
    for (;;) {
      const page = await this.#deps.store.activeBindings(after, 500);
      if (page.length === 0) return;
      const devices = [...groupBy(page, (b) => deviceKey(b.userId, b.deviceId)).values()].map((list) => list[0]!);
      const online = await this.#deps.presence.onlineAmong(devices);
      for (const { userId, deviceId } of devices) {
        if (online.has(deviceKey(userId, deviceId))) continue;
        await this.#replay(userId, deviceId, await this.#deps.cursors.ackedSeq(userId, deviceId), 'offline:server_restart');
      }
      after = page[page.length - 1]!.pushId;
    }
  }
}
