import { createHash } from 'node:crypto';
import type { ExpressionBuilder, Kysely, Selectable, Transaction, Updateable } from 'kysely';
import type { Database } from './schema.ts';
import type { NewPushJob, PushBinding, PushJob, PushJobKind, PushJobState, PushStore, TraceRow } from '../push-store.ts';
import { chunk, type SqlDialect, type WriteRunner } from './dialect.ts';

type BindingRow = Selectable<Database['push_bindings']>;
type JobRow = Selectable<Database['push_jobs']>;

function toBinding(row: BindingRow): PushBinding {
  return {
    pushId: row.push_id, deviceId: row.device_id, registration: row.provider, token: row.token, credential: row.credential,
    options: JSON.parse(row.options) as Record<string, string>, userId: row.user_id, active: Number(row.active) === 1,
  };
}

function toJob(row: JobRow): PushJob {
  return {
    id: Number(row.id), jobKey: row.job_key, pushId: row.push_id, userId: row.user_id, deviceId: row.device_id, eventId: Number(row.event_id),
    seq: Number(row.seq), conversation: row.conversation, kind: row.kind as PushJob['kind'], idempotencyKey: row.idempotency_key,
    state: row.state as PushJobState, attempts: Number(row.attempts), nextAttemptAt: Number(row.next_attempt_at), lastReason: row.last_reason,
    collapsed: Number(row.collapsed),
  };
}

/** Canonical JSON of registration options (sorted keys), so equal options store equal text. */
function optionsText(options: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/** Cancellation reasons after which a later replay may send the push after all. */
const REOPENABLE = ['online', 'logged_out', 'kicked', 'unregistered'];

/**
 * One job per (registration, event), and per follow-up kind: a call transition may owe both a
 * missed-call alert and a call-over push. A call-over is owed once per call, whichever transition
 * ended the ringing: its key names the call, not the event, so two transitions committed on two
 * nodes at once (each seeing no call-over yet) still make one job.
 */
export function jobKey(job: NewPushJob): string {
  if (job.kind === 'call_over') return `${job.pushId}:${job.conversation}:call_over`;
  return job.kind === 'badge_update' ? `${job.pushId}:${job.eventId}:${job.kind}` : `${job.pushId}:${job.eventId}`;
}

/** A stable UUID per (device binding, event): the vendor sees the same id on every retry. */
export function idempotencyKeyFor(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/** The push module's tables over the shared schema; writes go through the dialect's WriteRunner. */
export class SqlPushStore implements PushStore {
  readonly #db: Kysely<Database>;
  readonly #dialect: SqlDialect;
  readonly #write: WriteRunner;

  constructor(db: Kysely<Database>, dialect: SqlDialect, write: WriteRunner) {
    this.#db = db;
    this.#dialect = dialect;
    this.#write = write;
  }

  /** Trace rows inside a write, in statements under the dialect's bound-parameter limit. */
  async #insertTrace(trx: Transaction<Database>, rows: readonly TraceRow[], now = Date.now()): Promise<void> {
    for (const part of chunk(rows, 9, this.#dialect.maxParams)) {
      await trx.insertInto('push_trace').values(part.map((r) => ({
        event_id: r.eventId, message_id: r.messageId, user_id: r.userId, device_id: r.deviceId, push_id: r.pushId,
        decision: r.decision, reason: r.reason, detail: r.detail ?? null, at: r.at ?? now,
      }))).execute();
    }
  }

  async upsertBinding(b: PushBinding): Promise<void> {
    const now = Date.now();
    const options = optionsText(b.options);
    await this.#write(async (trx) => {
      // A token belongs to one app install; registering it again from another device moves it.
      await trx.deleteFrom('push_bindings').where('provider', '=', b.registration).where('token', '=', b.token).where('push_id', '!=', b.pushId).execute();
      await trx.insertInto('push_bindings').values({
        push_id: b.pushId, device_id: b.deviceId, provider: b.registration, token: b.token, credential: b.credential,
        options, user_id: b.userId, active: b.active ? 1 : 0, created_at: now, updated_at: now,
      }).onConflict((oc) => oc.column('push_id').doUpdateSet({
        token: b.token, credential: b.credential, options, active: b.active ? 1 : 0, updated_at: now,
      })).execute();
    });
  }

  async bindingByToken(registration: string, token: string) {
    const row = await this.#db.selectFrom('push_bindings').selectAll().where('provider', '=', registration).where('token', '=', token).executeTakeFirst();
    return row ? toBinding(row) : undefined;
  }

  async bindingByPushId(pushId: string) {
    const row = await this.#db.selectFrom('push_bindings').selectAll().where('push_id', '=', pushId).executeTakeFirst();
    return row ? toBinding(row) : undefined;
  }

  async bindingsForDevice(userId: string, deviceId: string) {
    return (await this.#db.selectFrom('push_bindings').selectAll().where('user_id', '=', userId).where('device_id', '=', deviceId)
      .where('active', '=', 1).execute()).map(toBinding);
  }

  async bindingsForUsers(userIds: readonly string[]) {
    const out: PushBinding[] = [];
    for (const part of chunk([...userIds], 1, this.#dialect.maxParams)) {
      const rows = await this.#db.selectFrom('push_bindings').selectAll().where('user_id', 'in', part).where('active', '=', 1).execute();
      out.push(...rows.map(toBinding));
    }
    return out;
  }

  async activeBindings(afterPushId: string, limit: number) {
    return (await this.#db.selectFrom('push_bindings').selectAll().where('active', '=', 1)
      .where('push_id', '>', afterPushId).orderBy('push_id').limit(limit).execute()).map(toBinding);
  }

  async removeBinding(pushId: string) {
    await this.#write((trx) => trx.deleteFrom('push_bindings').where('push_id', '=', pushId).execute());
  }

  async removeDeviceBindings(userId: string, deviceId: string, registration?: string) {
    return this.#write(async (trx) => {
      let query = trx.deleteFrom('push_bindings').where('user_id', '=', userId).where('device_id', '=', deviceId);
      if (registration) query = query.where('provider', '=', registration);
      return (await query.returningAll().execute()).map(toBinding);
    });
  }

  async activateDevice(userId: string, deviceId: string) {
    // Most logins change nothing; a plain read first keeps them off the write path (and fsync).
    const stale = await this.#db.selectFrom('push_bindings').select('push_id').where('device_id', '=', deviceId)
      .where((eb) => eb.or([eb.and([eb('user_id', '!=', userId), eb('active', '=', 1)]), eb.and([eb('user_id', '=', userId), eb('active', '=', 0)])]))
      .limit(1).executeTakeFirst();
    if (!stale) return;
    const now = Date.now();
    await this.#write(async (trx) => {
      await trx.updateTable('push_bindings').set({ active: 0, updated_at: now }).where('device_id', '=', deviceId).where('user_id', '!=', userId).where('active', '=', 1).execute();
      await trx.updateTable('push_bindings').set({ active: 1, updated_at: now }).where('device_id', '=', deviceId).where('user_id', '=', userId).where('active', '=', 0).execute();
    });
  }

  async deactivateDevice(userId: string, deviceId: string) {
    await this.#write((trx) => trx.updateTable('push_bindings').set({ active: 0, updated_at: Date.now() }).where('device_id', '=', deviceId).where('user_id', '=', userId).execute());
  }

  async enqueue(jobs: readonly NewPushJob[], now: number, traceOf?: (job: NewPushJob) => TraceRow) {
    if (jobs.length === 0) return [];
    // One job per key: a key twice in one statement is an error on PostgreSQL, and the second
    // would find the first pending anyway.
    const byKey = new Map<string, NewPushJob>();
    for (const job of jobs) {
      const key = jobKey(job);
      if (!byKey.has(key)) byKey.set(key, job);
    }
    return this.#write(async (trx) => {
      const stored = new Set<string>();
      // Multi-row statements: on a database across the network a row per statement is a round trip per push.
      for (const part of chunk([...byKey], 16, this.#dialect.maxParams)) {
        const rows = await trx.insertInto('push_jobs').values(part.map(([key, job]) => ({
          job_key: key, push_id: job.pushId, user_id: job.userId, device_id: job.deviceId, event_id: job.eventId, seq: job.seq,
          conversation: job.conversation, kind: job.kind,
          idempotency_key: idempotencyKeyFor(key), state: 'pending', attempts: 0, next_attempt_at: job.notBefore ?? now, lease_until: 0, collapsed: 1, created_at: now, updated_at: now,
        }))).onConflict((oc) => oc.column('job_key').doUpdateSet((eb) => ({
          // A push cancelled because the device came online (or logged out) is owed again when the
          // device drops once more without acking (MSG-4); delivered or collapsed ones are not.
          state: 'pending', attempts: 0, next_attempt_at: eb.ref('excluded.next_attempt_at'), last_reason: null, updated_at: now,
        })).where('push_jobs.state', '=', 'cancelled').where('push_jobs.last_reason', 'in', REOPENABLE)).returning('job_key').execute();
        for (const row of rows) stored.add(row.job_key);
      }
      const inserted = [...byKey].filter(([key]) => stored.has(key)).map(([, job]) => job);
      if (traceOf) await this.#insertTrace(trx, inserted.map(traceOf), now);
      return inserted;
    });
  }

  async claimDue(now: number, limit: number, leaseMs: number) {
    if (limit <= 0) return [];
    const due = (eb: ExpressionBuilder<Database, 'push_jobs'>) => eb.or([
      eb.and([eb('state', '=', 'pending'), eb('next_attempt_at', '<=', now)]),
      eb.and([eb('state', '=', 'sending'), eb('lease_until', '<', now)]),
    ]);
    // The dispatcher looks after every finished job; most looks find nothing, and a read is cheap.
    const candidates = await this.#db.selectFrom('push_jobs').select('id').where(due).limit(1).execute();
    if (candidates.length === 0) return [];
    const rows = await this.#write(async (trx) => {
      // One statement: only jobs still due when it runs are claimed; with several dispatchers on
      // one database each skips the rows another is claiming.
      let pick = trx.selectFrom('push_jobs').select('id').where(due).orderBy('next_attempt_at').orderBy('id').limit(limit);
      if (this.#dialect.shared) pick = pick.forUpdate().skipLocked();
      const ids = (await pick.execute()).map((r) => r.id);
      if (ids.length === 0) return [];
      return trx.updateTable('push_jobs').set({ state: 'sending', lease_until: now + leaseMs, updated_at: now })
        .where('id', 'in', ids).where(due).returningAll().execute();
    });
    return rows.map(toJob).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.id - b.id);
  }

  async finish(id: number, state: PushJobState, reason: string, vendorId: string | null = null, attempts?: number, trace?: TraceRow) {
    await this.#updateJob(id, { state, last_reason: reason, vendor_id: vendorId, updated_at: Date.now(), ...(attempts !== undefined ? { attempts } : {}) }, trace);
  }

  async retryLater(id: number, attempts: number, nextAttemptAt: number, reason: string, trace?: TraceRow, collapsed?: number) {
    await this.#updateJob(id, {
      state: 'pending', attempts, next_attempt_at: nextAttemptAt, last_reason: reason, updated_at: Date.now(),
      ...(collapsed !== undefined ? { collapsed } : {}),
    }, trace);
  }

  async #updateJob(id: number, set: Updateable<Database['push_jobs']>, trace: TraceRow | undefined) {
    await this.#write(async (trx) => {
      await trx.updateTable('push_jobs').set(set).where('id', '=', id).execute();
      if (trace) await this.#insertTrace(trx, [trace]);
    });
  }

  async cancelPendingForDevice(deviceId: string, reason: string, pushIds?: readonly string[], traceOf?: (job: PushJob) => TraceRow) {
    // Called at every login; nearly always there is nothing pending, and a read is cheap.
    let probe = this.#db.selectFrom('push_jobs').select('id').where('device_id', '=', deviceId).where('state', '=', 'pending');
    if (pushIds) probe = probe.where('push_id', 'in', pushIds.length > 0 ? [...pushIds] : ['']);
    if (!(await probe.limit(1).executeTakeFirst())) return [];
    return this.#write(async (trx) => {
      let update = trx.updateTable('push_jobs').set({ state: 'cancelled', last_reason: reason, updated_at: Date.now() })
        .where('device_id', '=', deviceId).where('state', '=', 'pending');
      if (pushIds) update = update.where('push_id', 'in', pushIds.length > 0 ? [...pushIds] : ['']);
      const cancelled = (await update.returningAll().execute()).map(toJob).sort((a, b) => a.id - b.id);
      if (traceOf) await this.#insertTrace(trx, cancelled.map(traceOf));
      return cancelled;
    });
  }

  async collapsePending(pushId: string, conversation: string | null, kind: PushJobKind, keepId: number, reason: string) {
    return this.#write(async (trx) => {
      let query = trx.selectFrom('push_jobs').selectAll().where('push_id', '=', pushId);
      if (conversation !== null) query = query.where('conversation', '=', conversation);
      const rows = await query.where('kind', '=', kind).where('state', '=', 'pending').where('id', '!=', keepId).execute();
      if (rows.length > 0) {
        await trx.updateTable('push_jobs').set({ state: 'cancelled', last_reason: reason, updated_at: Date.now() })
          .where('id', 'in', rows.map((r) => r.id)).execute();
      }
      return rows.map(toJob);
    });
  }

  async jobsIn(conversation: string, pushIds: readonly string[]) {
    const out: PushJob[] = [];
    for (const part of chunk([...pushIds], 1, this.#dialect.maxParams)) {
      const rows = await this.#db.selectFrom('push_jobs').selectAll().where('push_id', 'in', part).where('conversation', '=', conversation).execute();
      out.push(...rows.map(toJob));
    }
    return out.sort((a, b) => a.id - b.id);
  }

  async resetInFlight(now: number) {
    const result = await this.#write((trx) => {
      let query = trx.updateTable('push_jobs').set({ state: 'pending', updated_at: now }).where('state', '=', 'sending');
      // Another process's jobs in flight are its own until their lease lapses.
      if (this.#dialect.shared) query = query.where('lease_until', '<', now);
      return query.executeTakeFirst();
    });
    return Number(result.numUpdatedRows);
  }

  async jobs(filter: { userId?: string; deviceId?: string; state?: PushJobState }, limit: number) {
    let query = this.#db.selectFrom('push_jobs').selectAll();
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    if (filter.deviceId) query = query.where('device_id', '=', filter.deviceId);
    if (filter.state) query = query.where('state', '=', filter.state);
    return (await query.orderBy('id').limit(limit).execute()).map(toJob);
  }

  async trace(rows: readonly TraceRow[]) {
    if (rows.length === 0) return;
    const now = Date.now();
    await this.#write((trx) => this.#insertTrace(trx, rows, now));
  }

  async traceFor(filter: { messageId?: string; eventId?: number; userId?: string }, limit: number) {
    let query = this.#db.selectFrom('push_trace').selectAll();
    if (filter.messageId) query = query.where('message_id', '=', filter.messageId);
    if (filter.eventId !== undefined) query = query.where('event_id', '=', filter.eventId);
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    const rows = await query.orderBy('id', 'asc').limit(limit).execute();
    return rows.map((r) => ({
      eventId: Number(r.event_id), messageId: r.message_id, userId: r.user_id, deviceId: r.device_id, pushId: r.push_id,
      decision: r.decision as TraceRow['decision'], reason: r.reason, detail: r.detail, at: Number(r.at),
    }));
  }

  async pruneTrace(olderThan: number) {
    const result = await this.#write((trx) => trx.deleteFrom('push_trace').where('at', '<', olderThan).executeTakeFirst());
    return Number(result.numDeletedRows);
  }

  async vendorState(key: string, now: number) {
    const row = await this.#db.selectFrom('push_vendor_state').select(['value', 'expires_at']).where('key', '=', key).executeTakeFirst();
    return row && Number(row.expires_at) > now ? row.value : undefined;
  }

  async saveVendorState(key: string, value: string, expiresAt: number) {
    await this.#write((trx) => trx.insertInto('push_vendor_state').values({ key, value, expires_at: expiresAt })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, expires_at: expiresAt })).execute());
  }
}
