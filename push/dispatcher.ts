import type { PushBinding, PushJob, PushStore, TraceRow } from '../storage/index.ts';
import { decideFollowUp, decidePush } from './decide.ts';
import { wasRungThrough } from './follow-ups.ts';
import { parseConversation } from '../protocol/index.ts';
import { isVoipCarrier } from './carriers.ts';
import { groupBy } from './grouping.ts';
import type { PushDeps, PushServiceOptions } from './options.ts';
import type { PushOutcome, PushTarget } from './vendors/contract.ts';
import { UnknownCredentialError } from './vendors/providers.ts';

/** A dead carrier's job goes to the device's next carrier (push-service.ts). */
export type FallBack = (job: PushJob, dead: PushBinding, why: string) => Promise<void>;

/** What a provider is given for a binding: the generic part and the vendor's own fields. */
export function targetOf(binding: PushBinding): PushTarget {
  return { registration: binding.registration, token: binding.token, credential: binding.credential, options: binding.options };
}

/** PAY-4: how many messages one notification stands for: its own job and those folded into it. */
function collapsedCountOf(job: PushJob, folded: readonly PushJob[]): number {
  return job.collapsed + folded.reduce((sum, f) => sum + f.collapsed, 0);
}

interface VendorCall {
  provider: string;
  startedAt: number;
}

/**
 * Exponential backoff with "equal jitter" (a random delay between half the ceiling and the
 * ceiling), capped at retryMaxMs; a vendor's Retry-After wins when it is longer.
 */
export function retryDelayMs(attempt: number, options: Pick<PushServiceOptions, 'retryBaseMs' | 'retryMaxMs'>, retryAfterMs = 0, random = Math.random): number {
  const ceiling = Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(retryAfterMs, Math.round(ceiling / 2 + (random() * ceiling) / 2));
}

/**
 * Drains the durable outbox: claims due jobs, re-checks that the push is still wanted (device
 * still offline, still bound to the same user, event not acked), sends through the provider and
 * records the outcome. Retries with backoff; dead-letters after maxAttempts (OPS-3).
 */
export class PushDispatcher {
  readonly #deps: PushDeps;
  readonly #options: PushServiceOptions;
  readonly #fallBack: FallBack;
  /** Jobs holding a concurrency slot: being checked or at the vendor. */
  #inFlight = new Set<Promise<void>>();
  /** Every job not finished yet, including those only recording their outcome. */
  #running = new Set<Promise<void>>();
  /**
   * Jobs claimed ahead of a free slot, in claim order, each with the jobs collapsed into it. A
   * claim is a write that waits for the storage writer's commit (hundreds of ms under load); a
   * slot that had to wait for one claim after the other capped the outbox at about 45 jobs/s in
   * the 5,000-device load run while vendors answered in 150 ms. Claimed jobs are `sending` under
   * their lease, so nothing else claims them; each is re-checked when it starts (#run).
   */
  #ready: Array<[PushJob, PushJob[]]> = [];
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #again = false;
  #stopped = false;

  constructor(deps: PushDeps, options: PushServiceOptions, fallBack: FallBack) {
    this.#deps = deps;
    this.#options = options;
    this.#fallBack = fallBack;
  }

  get store(): PushStore {
    return this.#deps.store;
  }

  async start(): Promise<void> {
    const reset = await this.#deps.store.resetInFlight(Date.now());
    if (reset > 0) this.#deps.logger.warn({ jobs: reset }, 'push jobs left in flight by a previous run were re-queued');
    this.#timer = setInterval(() => this.wake(), this.#options.pollMs);
    this.#timer.unref();
    this.wake();
  }

  /** Look for due jobs now (called after enqueue). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#ticking = true;
    void this.#tick().catch((error: unknown) => this.#deps.logger.error({ err: error }, 'push dispatcher tick failed')).finally(() => {
      this.#ticking = false;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  async #tick(): Promise<void> {
    this.#startReady();
    // Claim when fewer than a slot's worth of jobs wait, up to one full round beyond the free
    // slots, so a slot that frees finds its next job at hand.
    const { concurrency } = this.#options;
    if (this.#ready.length >= concurrency) return;
    const want = 2 * concurrency - this.#inFlight.size - this.#ready.length;
    if (want <= 0) return;
    const claimed = await this.#deps.store.claimDue(Date.now(), want, this.#options.claimLeaseMs);
    for (const [job, folded] of await this.#collapse(claimed)) {
      // A ring never waits for a slot: it is worthless after its deadline, and a claimed ring
      // counts as rung (a call-over push follows it, follow-ups.ts), so it must be on its way.
      if (job.kind === 'call_ring') this.#start(job, folded);
      else this.#ready.push([job, folded]);
    }
    this.#startReady();
    if (claimed.length === want) this.#again = true;
  }

  #startReady(): void {
    while (this.#ready.length > 0 && this.#inFlight.size < this.#options.concurrency) {
      const [job, folded] = this.#ready.shift()!;
      this.#start(job, folded);
    }
  }

  #start(job: PushJob, folded: PushJob[]): void {
    // The slot is given back as soon as only the outcome's write is left: that write waits for
    // the storage writer's commit, and holding vendor slots through it halved the push rate
    // under load. The job stays `sending` in the outbox until then, so nothing claims it twice.
    let freeSlot!: () => void;
    const slot = new Promise<void>((resolve) => { freeSlot = resolve; });
    const run: Promise<void> = this.#run(job, folded, freeSlot)
      .catch((error: unknown) => this.#deps.logger.error({ err: error, jobId: job.id }, 'push job crashed'))
      .finally(() => {
        freeSlot();
        this.#running.delete(run);
      });
    this.#running.add(run);
    const held: Promise<void> = slot.then(() => {
      this.#inFlight.delete(held);
      this.wake();
    });
    this.#inFlight.add(held);
  }

  /**
   * PAY-4: message jobs of one device binding and conversation become one notification, sent for
   * the newest event and counting all of them; the badge stays exact because it is the unread
   * count at send time. The others end as `collapsed` in the trace, naming the job they joined.
   */
  async #collapse(claimed: PushJob[]): Promise<Map<PushJob, PushJob[]>> {
    const out = new Map<PushJob, PushJob[]>();
    // Message pushes collapse per binding and conversation; badge updates per binding (one badge).
    const collapseKey = (job: PushJob) => (job.kind === 'message' && this.#options.collapseWindowMs > 0 ? `${job.pushId}\u0000${job.conversation}`
      : job.kind === 'badge_update' ? job.pushId : undefined);
    for (const job of claimed) if (collapseKey(job) === undefined) out.set(job, []);
    for (const group of groupBy(claimed.filter((j) => collapseKey(j) !== undefined), (job) => collapseKey(job)!).values()) {
      const keep = group.reduce((a, b) => (b.eventId > a.eventId ? b : a));
      const reason = 'collapsed';
      const others = group.filter((j) => j !== keep);
      for (const job of others) await this.#deps.store.finish(job.id, 'cancelled', reason);
      const pending = await this.#deps.store.collapsePending(keep.pushId, keep.kind === 'message' ? keep.conversation : null, keep.kind, keep.id, reason);
      for (const job of [...others, ...pending]) await this.#trace(job, null, 'cancelled', reason, `into ${keep.jobKey}`);
      // Jobs still inside their window are folded in too. With a count above one the text is the
      // generic "N new messages"; the notification's click-through points at the oldest event.
      out.set(keep, [...others, ...pending]);
    }
    return out;
  }

  /** Wait for every job in flight (shutdown), bounded by the caller. */
  async drain(): Promise<void> {
    while (this.#running.size > 0 || this.#inFlight.size > 0 || this.#ticking) await Promise.race([...this.#running, new Promise((r) => setTimeout(r, 10))]);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    while (this.#ticking) await new Promise((r) => setTimeout(r, 10));
    // Jobs claimed ahead go back to the queue at once: another dispatcher on the same database
    // (or this one after a restart) need not wait out their lease.
    const unstarted = this.#ready.splice(0);
    const now = Date.now();
    // Jobs folded into one are cancelled in the outbox already; the one kept carries their count.
    for (const [job, folded] of unstarted) await this.#deps.store.retryLater(job.id, job.attempts, now, 'released', undefined, collapsedCountOf(job, folded));
    await this.drain();
  }

  /** The trace row that ends (or reschedules) a job; also what the observer hears of it. */
  #row(job: PushJob, messageId: string | null, decision: TraceRow['decision'], reason: string, detail?: string | null, call?: VendorCall): TraceRow {
    this.#deps.observer?.jobDone(`${decision}:${reason}`, call?.provider, (call?.startedAt ?? Date.now()) - job.nextAttemptAt, call ? Date.now() - call.startedAt : undefined);
    return { eventId: job.eventId, messageId, userId: job.userId, deviceId: job.deviceId, pushId: job.pushId, decision, reason, detail: detail ?? null };
  }

  async #trace(job: PushJob, messageId: string | null, decision: TraceRow['decision'], reason: string, detail?: string): Promise<void> {
    await this.#deps.store.trace([this.#row(job, messageId, decision, reason, detail)]);
  }

  async #cancel(job: PushJob, reason: string, freeSlot: () => void, messageId: string | null = null): Promise<void> {
    freeSlot();
    await this.#deps.store.finish(job.id, 'cancelled', reason, null, undefined, this.#row(job, messageId, 'cancelled', reason));
  }

  /**
   * A folded group whose kept message turns out not to be pushable by itself (no-push option,
   * custom without text, blocked sender) must not swallow the others: they go back to the queue.
   */
  async #unfold(folded: readonly PushJob[]): Promise<void> {
    const now = Date.now();
    for (const job of folded) await this.#deps.store.retryLater(job.id, job.attempts, now, 'unfolded');
    if (folded.length > 0) this.wake();
  }

  /**
   * A call-over is owed when the ring went out (follow-ups.ts counts a ring being sent, since it
   * may reach the device). A ring that was being sent then may still have been dropped (its call
   * was over by its turn): checked again here, at the call-over's turn, the device was never rung.
   */
  async #wasRung(job: PushJob): Promise<boolean> {
    const pushIds = new Set([job.pushId, ...(await this.#deps.store.bindingsForDevice(job.userId, job.deviceId)).map((b) => b.pushId)]);
    const history = await this.#deps.store.jobsIn(job.conversation, [...pushIds]);
    return wasRungThrough(history.filter((j) => j.deviceId === job.deviceId));
  }

  async #run(job: PushJob, folded: readonly PushJob[], freeSlot: () => void): Promise<void> {
    const collapsedCount = collapsedCountOf(job, folded);
    const { store, log, readModels, providers, logger } = this.#deps;
    const binding = await store.bindingByPushId(job.pushId);
    if (!binding) return this.#cancel(job, 'unregistered', freeSlot);
    if (binding.userId !== job.userId || !binding.active) return this.#cancel(job, 'logged_out', freeSlot);
    if (await this.#deps.presence.isOnline(job.userId, job.deviceId)) return this.#cancel(job, 'online', freeSlot);
    if (job.seq <= await this.#deps.cursors.ackedSeq(job.userId, job.deviceId)) return this.#cancel(job, 'acked', freeSlot);
    const event = (await log.eventsByIds([job.eventId])).get(job.eventId);
    if (!event) return this.#cancel(job, 'event_missing', freeSlot);
    if (job.kind === 'call_over' && !(await this.#wasRung(job))) return this.#cancel(job, 'never_rung', freeSlot);
    const parsed = parseConversation(event.conversation);
    const call = parsed?.kind === 'call' ? (await readModels.callsByIds([parsed.callId])).get(parsed.callId) : undefined;
    const [settings, senderSettings, badge] = await Promise.all([
      this.#deps.settings.get(job.userId),
      this.#deps.settings.get(call?.inviter ?? event.sender),
      readModels.totalUnread(job.userId),
    ]);
    const groupName = parsed?.kind === 'group' ? readModels.groupName(parsed.groupId) : undefined;
    const decision = job.kind === 'badge_update' || job.kind === 'call_over'
      ? decideFollowUp({ kind: job.kind, event, recipient: job.userId, settings, badge, call, conversations: [job.conversation, ...folded.map((f) => f.conversation)] })
      : decidePush({
        event, recipient: job.userId, voipCarrier: isVoipCarrier(binding), call, settings, badge, collapsedCount,
        senderName: senderSettings.displayName ?? call?.inviter ?? event.sender,
        ...(groupName !== undefined ? { groupName } : {}),
      }, this.#options.payload);
    if (!decision.push) {
      freeSlot();
      await store.finish(job.id, 'cancelled', decision.reason, null, undefined, this.#row(job, event.messageId, 'suppressed', decision.reason));
      return this.#unfold(folded);
    }
    const target = targetOf(binding);
    let outcome: PushOutcome;
    const vendorCall: VendorCall = { provider: binding.registration, startedAt: Date.now() };
    try {
      outcome = await providers.forTarget(target).send(target, { ...decision.message, id: job.idempotencyKey });
    } catch (error) {
      outcome = error instanceof UnknownCredentialError
        ? { status: 'config_error', reason: `unknown credential ${binding.credential}` }
        : { status: 'retry', reason: `provider error: ${(error as Error).message}` };
    }
    freeSlot();
    const attempts = job.attempts + 1;
    switch (outcome.status) {
      case 'delivered':
        return store.finish(job.id, 'delivered', 'delivered', outcome.vendorId ?? null, attempts, this.#row(job, event.messageId, 'pushed', 'delivered', outcome.vendorId, vendorCall));
      case 'retry': {
        if (attempts >= this.#options.maxAttempts) {
          logger.warn({ jobId: job.id, pushId: job.pushId, reason: outcome.reason }, 'push dead-lettered');
          return store.finish(job.id, 'dead_letter', outcome.reason, null, attempts, this.#row(job, event.messageId, 'failed', 'dead_letter', outcome.reason, vendorCall));
        }
        const delay = retryDelayMs(attempts, this.#options, outcome.retryAfterMs);
        return store.retryLater(job.id, attempts, Date.now() + delay, outcome.reason,
          this.#row(job, event.messageId, 'retry', 'vendor_retry', `${outcome.reason}; attempt ${attempts}, next in ${delay} ms`, vendorCall), collapsedCount);
      }
      case 'dead_token':
        // DEV-7: the vendor says the token is gone; remove the binding so nothing tries it again.
        await store.removeBinding(job.pushId);
        logger.info({ pushId: job.pushId, userId: job.userId, deviceId: job.deviceId, reason: outcome.reason }, 'dead push token pruned');
        await store.finish(job.id, 'failed', 'dead_token', null, undefined, this.#row(job, event.messageId, 'failed', 'dead_token', outcome.reason, vendorCall));
        return this.#fallBack(job, binding, 'token dead');
      case 'config_error':
        logger.error({ pushId: job.pushId, credential: binding.credential, reason: outcome.reason }, 'push configuration error');
        return store.finish(job.id, 'failed', 'config_error', null, undefined, this.#row(job, event.messageId, 'failed', 'config_error', outcome.reason, vendorCall));
      case 'rejected':
        return store.finish(job.id, 'failed', 'vendor_rejected', null, undefined, this.#row(job, event.messageId, 'failed', 'vendor_rejected', outcome.reason, vendorCall));
    }
  }
}
