/** Storage contract of the push module: device bindings, the durable outbox and the decision trace. */
export interface PushBinding {
  pushId: string;
  deviceId: string;
  /** The registration kind the device named (`provider` on the wire): 'apns', 'apns-voip', 'fcm', … (push/vendors/registry.ts). */
  registration: string;
  /** The token in its stored form (objects such as Web Push subscriptions as canonical JSON). */
  token: string;
  credential: string;
  /** Vendor-specific registration fields (APNs environment and topic). */
  options: Record<string, string>;
  /** The user who registered it; a binding never moves to another user. */
  userId: string;
  /** True while that user is logged in on the device (DEV-4); inactive bindings get no push. */
  active: boolean;
}

export type PushJobState = 'pending' | 'sending' | 'delivered' | 'cancelled' | 'failed' | 'dead_letter';

export interface PushJob {
  id: number;
  jobKey: string;
  pushId: string;
  userId: string;
  deviceId: string;
  eventId: number;
  seq: number;
  conversation: string;
  kind: PushJobKind;
  /** Stable per (device binding, event): the vendor sees the same id on every retry (apns-id, FCM pushId, vivo requestId). */
  idempotencyKey: string;
  state: PushJobState;
  attempts: number;
  nextAttemptAt: number;
  lastReason: string | null;
  /** PAY-4: how many queued messages this job stands for (1 unless others were collapsed into it). */
  collapsed: number;
}

export interface NewPushJob {
  pushId: string;
  userId: string;
  deviceId: string;
  eventId: number;
  /** The event's seq in this user's inbox: a job at or below the device's acked cursor is never sent. */
  seq: number;
  conversation: string;
  kind: PushJobKind;
  /** Earliest send time (collapse window); now when absent. */
  notBefore?: number;
}

/** The one definition of what a push job is for (push/decide.ts decides which an event needs). */
export type PushJobKind = 'message' | 'call_ring' | 'missed_call' | 'badge_update' | 'call_over';

export interface TraceRow {
  eventId: number;
  messageId: string | null;
  userId: string;
  deviceId: string | null;
  pushId: string | null;
  decision: 'pushed' | 'queued' | 'suppressed' | 'failed' | 'retry' | 'cancelled';
  reason: string;
  detail?: string | null;
  at?: number;
}

export interface PushStore {
  upsertBinding(binding: PushBinding): Promise<void>;
  bindingByToken(registration: string, token: string): Promise<PushBinding | undefined>;
  bindingByPushId(pushId: string): Promise<PushBinding | undefined>;
  /** Active bindings of one user on one device. */
  bindingsForDevice(userId: string, deviceId: string): Promise<PushBinding[]>;
  /** Active bindings of these users. */
  bindingsForUsers(userIds: readonly string[]): Promise<PushBinding[]>;
  activeBindings(afterPushId: string, limit: number): Promise<PushBinding[]>;
  removeBinding(pushId: string): Promise<void>;
  removeDeviceBindings(userId: string, deviceId: string, registration?: string): Promise<PushBinding[]>;
  /** Login: this user's bindings on the device become active, every other user's on it inactive. */
  activateDevice(userId: string, deviceId: string): Promise<void>;
  /** Logout or kick: this user's bindings on the device become inactive. */
  deactivateDevice(userId: string, deviceId: string): Promise<void>;

  /** Insert jobs that do not exist yet (by job key); returns the jobs actually inserted, each traced by `traceOf` in the same commit. */
  enqueue(jobs: readonly NewPushJob[], now: number, traceOf?: (job: NewPushJob) => TraceRow): Promise<NewPushJob[]>;
  /**
   * Atomically move up to `limit` due jobs to `sending`, each this caller's until `now + leaseMs`:
   * with several dispatchers on one database a job is claimed by one of them, and a job whose
   * dispatcher died mid-send (still `sending` past its lease) is due again.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<PushJob[]>;
  /** Record a job's outcome, with its trace row in the same commit when given. */
  finish(id: number, state: PushJobState, reason: string, vendorId?: string | null, attempts?: number, trace?: TraceRow): Promise<void>;
  /** `collapsed`: how many messages the job stands for now (PAY-4), kept for its next attempt. */
  retryLater(id: number, attempts: number, nextAttemptAt: number, reason: string, trace?: TraceRow, collapsed?: number): Promise<void>;
  /** Cancel a device's pending jobs (optionally only these registrations); each traced by `traceOf` in the same commit. */
  cancelPendingForDevice(deviceId: string, reason: string, pushIds?: readonly string[], traceOf?: (job: PushJob) => TraceRow): Promise<PushJob[]>;
  /**
   * PAY-4: cancel the other pending jobs of this kind of a binding (in one conversation, or in
   * any when `conversation` is null) that a kept job stands for; returns them.
   */
  collapsePending(pushId: string, conversation: string | null, kind: PushJobKind, keepId: number, reason: string): Promise<PushJob[]>;
  /** The jobs of these bindings in one conversation (what a device was pushed for it), oldest first. */
  jobsIn(conversation: string, pushIds: readonly string[]): Promise<PushJob[]>;
  /**
   * At start: jobs a previous run left `sending` go back to `pending` (at-least-once to the
   * vendor). A database several processes share re-queues only those whose lease has lapsed.
   */
  resetInFlight(now: number): Promise<number>;
  jobs(filter: { userId?: string; deviceId?: string; state?: PushJobState }, limit: number): Promise<PushJob[]>;

  trace(rows: readonly TraceRow[]): Promise<void>;
  /** Trace rows, oldest first (the oldest `limit` still kept). */
  traceFor(filter: { messageId?: string; eventId?: number; userId?: string }, limit: number): Promise<Required<TraceRow>[]>;
  pruneTrace(olderThan: number): Promise<number>;

  /** Small vendor state kept across restarts (auth tokens a vendor rations); undefined once expired. */
  vendorState(key: string, now: number): Promise<string | undefined>;
  saveVendorState(key: string, value: string, expiresAt: number): Promise<void>;
}
