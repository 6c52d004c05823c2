/**
 * End-of-run accounting.
 *
 * Socket: every message the server committed for our users (acked to its sender, or seen in any
 * inbox) must be in the inbox of each recipient — the peer and the sender for a peer chat, the
 * members at the message's eventId for a group (membership from group_created / member_joined /
 * member_left events) — and every device of each recipient must have received that inbox seq
 * exactly once over its sockets (after the final resync). A seq received twice is a duplicate;
 * one message at two seqs of one inbox is a duplicate too. A message the tool first heard of
 * after it sent the final resyncs (a server still working through its queue when the drain ended)
 * may have been committed after them: one no device received is counted unverified, not lost, and
 * a run with any is inconclusive. Every call must be over and every
 * device of its inviter and invitees must have its terminal call_state.
 *
 * Push (message pushes): a device with an active registration that is offline (closed, dropped,
 * or silent past its heartbeat deadline) should get a push for each message addressed to its user
 * whose inbox seq is above the device's ack cursor at that moment (offline replay, docs/PUSH.md
 * MSG-4) or that is committed while it stays offline (MSG-1). A push that did not arrive is looked
 * up in the outbox (`GET /admin/push-jobs`): cancelled because the device came back, or never
 * queued because the device was back before the server's offline replay ran, is accepted when the
 * device was back within BACK_ONLINE_ALLOWANCE_MS; anything else (never queued although offline
 * for long, delivered to the vendor but never received, failed) is lost. Each push that did arrive
 * is classified against the device's timeline: expected, raced a reconnect/logout (job already in
 * flight), or a violation (pushed to an online device, to a logged-out device, for an acked
 * message, to the wrong user). Same (device, message) pushed twice with different idempotency
 * keys is a duplicate, whichever channels carried the two: a phone with an OEM token and an FCM
 * token must get each event once (carrier choice), so OEM + FCM for one event is a duplicate too.
 *
 * A node SIGKILLed mid-run (--kill-node-at) changes no rule. Its devices' sockets drop: each is
 * offline from then on (span reason `node_killed`). The cluster keeps listing them online until
 * the dead node's presence entries expire (cluster.presenceTtlMs, then a sweep), so a device back
 * before that was never pushed — the "never queued, back within BACK_ONLINE_ALLOWANCE_MS" case,
 * which is only honest while that allowance exceeds the expiry (run.ts refuses to run otherwise);
 * a device away for longer must get every push, as after any other drop.
 */
import type { Device, Span } from './device.ts';
import type { OutboxJob, PushRecord, PushSource } from './push-source.ts';
import { Latencies, type LatencySummary } from './stats.ts';
import type { Msg, User, World } from './world.ts';

/**
 * Every message that reaches a device's user while the device is offline (or that it had not acked
 * when it went offline) should be pushed — unless the device is back first: the server cancels
 * pending pushes at login (ON-3) and skips an offline replay that runs after the device is back
 * (its trigger work is serialised, docs/PUSH.md). A missing push is therefore looked up in the
 * outbox: "cancelled: online/acked/logged_out/kicked" or "never queued" are accepted only if the device was back
 * within this long of the moment the push became due; longer, it counts as lost.
 */
export const BACK_ONLINE_ALLOWANCE_MS = 10_000;
/** A push arriving this soon after a login/logout raced it (the job was already being sent). */
export const RACE_MS = 2000;
/** The server's push.replayLimit (default 200): the newest un-acked events replayed at offline. */
export const REPLAY_LIMIT = 200;
const LIST_CAP = 200;
/** Longest the end-of-run outbox lookups (one request per device with a missing push) may take. */
const OUTBOX_LOOKUP_BUDGET_MS = 20_000;

export interface LostDelivery {
  messageId: string;
  conversation: string;
  from: string;
  eventId: number;
  at: number;
  user: string;
  device: string;
  seq: number | null;
  reason: 'not_in_inbox' | 'not_received_by_device';
}

export interface LostCall {
  callId: string;
  terminalEventId: number;
  user: string;
  device: string;
  reason: string;
}

export interface PushProblem {
  device: string;
  user: string;
  messageId: string;
  eventId: number;
  at: number;
  reason: string;
  token?: string;
  receivedAt?: number;
  detail?: string;
}

export interface AccountingResult {
  socket: {
    messagesCommitted: number;
    messagesAcked: number;
    committedNotAcked: number;
    unackedSends: number;
    expectedDeliveries: number;
    deliveredOnce: number;
    lostCount: number;
    /** Of lostCount: on devices that never completed the final resync (could not be verified). */
    lostOnUnsyncedDevices: number;
    lost: LostDelivery[];
    /**
     * Not received, of messages the tool first heard of after the final resyncs were sent (World.finalSyncAt):
     * committed after them, perhaps, so neither shown delivered nor shown lost. A run with any is inconclusive.
     */
    unverifiedCount: number;
    unverified: LostDelivery[];
    duplicateCount: number;
    duplicates: World['duplicates'];
    duplicateMessages: number;
    inboxConflicts: World['inboxConflicts'];
    unexpectedRecipients: number;
    unexpectedExamples: Array<{ messageId: string; user: string }>;
    unknownMembership: number;
    devicesNotFinalSynced: string[];
  };
  calls: {
    total: number;
    finished: number;
    unfinished: string[];
    expectedTerminalDeliveries: number;
    lostCount: number;
    lost: LostCall[];
  };
  push: {
    source: PushSource['kind'];
    note: string[];
    devicesWithTokens: number;
    received: number;
    /** Accepted pushes per vendor (channel). */
    byVendor: Record<string, number>;
    /** Devices that registered a second channel (an FCM token behind an OEM one). */
    devicesWithFallback: number;
    messagePushes: number;
    callPushes: { ring: number; missed: number; other: number };
    unknownTokens: number;
    expected: number;
    matched: number;
    /** Never queued, and the device was back within BACK_ONLINE_ALLOWANCE_MS (the offline replay found it online). */
    triggerLate: number;
    confirmedByOutbox: number;
    cancelledByReconnect: number;
    allowedExtra: Record<string, number>;
    lostCount: number;
    lost: PushProblem[];
    /**
     * Expected, not received, and the outbox could not be asked (its lookups failed or ran out of
     * OUTBOX_LOOKUP_BUDGET_MS): neither shown pushed nor shown lost. Counted in the verdict's unverified.
     */
    uncheckedCount: number;
    unchecked: PushProblem[];
    violationsCount: number;
    violations: PushProblem[];
    violationClasses: Record<string, number>;
    duplicateCount: number;
    /** Of duplicateCount: the same (device, event) reached through two channels (OEM and FCM). */
    crossChannelDuplicates: number;
    duplicates: PushProblem[];
    retransmits: number;
    outboxLookups: number;
    timeoutToPush: LatencySummary;
    timeoutToPushSamples: Latencies;
    silentTimeoutsWithPush: number;
    /**
     * Only when a node was killed (--kill-node-at): for devices it took offline, the time from the
     * kill to the first push of an event committed before it (the dead node's presence entries
     * had to expire first), and how many violations fell in those offline spans.
     */
    killToPush?: LatencySummary;
    devicesPushedAfterKill?: number;
    violationsAfterKill?: number;
  };
  verdict: { lost: number; duplicated: number; unverified: number; pass: boolean };
}

function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

function push<T>(list: T[], item: T): void {
  if (list.length < LIST_CAP) list.push(item);
}

export interface AccountingInput {
  world: World;
  source: PushSource;
  /** Outbox rows of one device, or undefined when the admin API is unavailable. */
  outbox: ((user: string, device: string) => Promise<OutboxJob[]>) | undefined;
  finalTime: number;
}

/**
 * The devices stay connected while the tool accounts (their outbox rows must not move under it),
 * so the accounting loops give the event loop back regularly: a stall past the server's heartbeat
 * timeout would drop every device and replay pushes mid-accounting.
 */
function breather(budgetMs = 20): () => Promise<void> | undefined {
  let since = Date.now();
  return () => {
    if (Date.now() - since < budgetMs) return undefined;
    return new Promise<void>((resolve) => setImmediate(() => {
      since = Date.now();
      resolve();
    }));
  };
}

export async function account(input: AccountingInput): Promise<AccountingResult> {
  const { world } = input;
  const breathe = breather();
  const recipientsCache = new Map<string, Set<string> | undefined>();
  let unknownMembership = 0;
  const recipientsOf = (m: Msg): Set<string> | undefined => {
    if (recipientsCache.has(m.id)) return recipientsCache.get(m.id);
    let r: Set<string> | undefined;
    if ('user' in m.to) r = new Set([m.from, m.to.user]);
    else {
      r = world.membership.membersAt(m.to.group, m.eventId);
      if (!r) unknownMembership += 1;
    }
    recipientsCache.set(m.id, r);
    return r;
  };

  // ------------------------------------------------------------------ socket
  const lost: LostDelivery[] = [];
  let lostCount = 0;
  let lostOnUnsyncedDevices = 0;
  const unverified: LostDelivery[] = [];
  let unverifiedCount = 0;
  const afterFinalSync = (m: Msg) => world.finalSyncAt !== undefined && m.knownAt >= world.finalSyncAt;
  let expectedDeliveries = 0;
  let deliveredOnce = 0;
  let committedNotAcked = 0;
  for (const m of world.msgs.values()) {
    await breathe();
    if (!m.acked) committedNotAcked += 1;
    const recipients = recipientsOf(m);
    if (!recipients) continue;
    for (const uid of recipients) {
      const user = world.userById.get(uid);
      if (!user) continue;
      const seq = user.inbox.get(m.id);
      for (const device of user.devices) {
        expectedDeliveries += 1;
        if (seq !== undefined && device.received.has(seq)) {
          deliveredOnce += 1;
          continue;
        }
        const missing: LostDelivery = {
          messageId: m.id, conversation: m.conversation, from: m.from, eventId: m.eventId, at: m.at, user: uid, device: device.id,
          seq: seq ?? null, reason: seq === undefined ? 'not_in_inbox' : 'not_received_by_device',
        };
        if (afterFinalSync(m)) {
          unverifiedCount += 1;
          push(unverified, missing);
          continue;
        }
        lostCount += 1;
        if (!device.finalSynced) lostOnUnsyncedDevices += 1;
        push(lost, missing);
      }
    }
  }
  let unexpectedRecipients = 0;
  const unexpectedExamples: Array<{ messageId: string; user: string }> = [];
  for (const user of world.users) {
    await breathe();
    for (const id of user.inbox.keys()) {
      const m = world.msgs.get(id);
      if (!m) continue;
      const recipients = recipientsOf(m);
      if (recipients && !recipients.has(user.id)) {
        unexpectedRecipients += 1;
        push(unexpectedExamples, { messageId: id, user: user.id });
      }
    }
  }
  const duplicateMessages = world.duplicates.filter((d) => d.kind === 'message').length;
  const unackedSends = world.devices.reduce((n, d) => n + d.pending.size, 0);

  // ------------------------------------------------------------------ calls
  const lostCalls: LostCall[] = [];
  let lostCallCount = 0;
  let expectedTerminal = 0;
  const unfinished: string[] = [];
  let finished = 0;
  for (const call of world.calls.values()) {
    await breathe();
    if (call.terminalEventId === undefined) {
      unfinished.push(call.callId);
      continue;
    }
    finished += 1;
    const parties = new Set([...(call.inviter ? [call.inviter] : []), ...call.invitees]);
    for (const uid of parties) {
      const user = world.userById.get(uid);
      if (!user) continue;
      const seq = user.callEvents.get(call.terminalEventId);
      for (const device of user.devices) {
        expectedTerminal += 1;
        if (seq !== undefined && device.received.has(seq)) continue;
        lostCallCount += 1;
        push(lostCalls, { callId: call.callId, terminalEventId: call.terminalEventId, user: uid, device: device.id, reason: seq === undefined ? 'not_in_inbox' : 'not_received_by_device' });
      }
    }
  }

  // ------------------------------------------------------------------ push
  const pushResult = await accountPushes(input, recipientsOf, breathe);

  const socketDuplicates = world.duplicateCount + world.inboxConflicts.length;
  const verdictLost = lostCount + lostCallCount + pushResult.lostCount;
  const verdictDup = socketDuplicates + pushResult.duplicateCount;
  const verdictUnverified = unverifiedCount + pushResult.uncheckedCount;
  return {
    socket: {
      messagesCommitted: world.msgs.size, messagesAcked: world.stats.acked, committedNotAcked, unackedSends,
      expectedDeliveries, deliveredOnce, lostCount, lostOnUnsyncedDevices, lost, unverifiedCount, unverified,
      duplicateCount: world.duplicateCount, duplicates: world.duplicates.slice(0, LIST_CAP), duplicateMessages,
      inboxConflicts: world.inboxConflicts.slice(0, LIST_CAP), unexpectedRecipients, unexpectedExamples, unknownMembership,
      devicesNotFinalSynced: world.devices.filter((d) => !d.finalSynced).map((d) => d.id),
    },
    calls: { total: world.calls.size, finished, unfinished, expectedTerminalDeliveries: expectedTerminal, lostCount: lostCallCount, lost: lostCalls },
    push: pushResult,
    verdict: { lost: verdictLost, duplicated: verdictDup, unverified: verdictUnverified, pass: verdictLost === 0 && verdictDup === 0 && verdictUnverified === 0 },
  };
}

/** The span a time falls in (spans are in time order; each lasts until the next begins). */
function spanAt(spans: readonly Span[], t: number): { span: Span; index: number } | undefined {
  let found: { span: Span; index: number } | undefined;
  for (let i = 0; i < spans.length; i++) {
    if (spans[i]!.from <= t) found = { span: spans[i]!, index: i };
    else break;
  }
  return found;
}

interface UserMsg {
  seq: number;
  msg: Msg;
}

async function accountPushes(input: AccountingInput, recipientsOf: (m: Msg) => Set<string> | undefined, breathe: () => Promise<void> | undefined): Promise<AccountingResult['push']> {
  const { world, source, outbox, finalTime } = input;
  const note: string[] = [];
  if (source.note) note.push(source.note);
  if (source.missed > 0) note.push(`${source.missed} sandbox records were overwritten between polls and never seen`);
  const devices = world.devices.filter((d) => d.provider !== undefined && d.tokens.length > 0);

  // Per user: messages from others, by inbox seq; and the inbox head at a given time.
  const userMsgs = new Map<User, UserMsg[]>();
  const msgsOf = (user: User): UserMsg[] => {
    let list = userMsgs.get(user);
    if (!list) {
      list = [];
      for (const [id, seq] of user.inbox) {
        const msg = world.msgs.get(id);
        if (msg && msg.from !== user.id) list.push({ seq, msg });
      }
      list.sort((a, b) => a.seq - b.seq);
      userMsgs.set(user, list);
    }
    return list;
  };
  // eventAt is indexed by seq; forEach visits the seqs received, in order, and skips the holes.
  const headAt = (user: User, t: number): number => {
    let head = 0;
    user.eventAt.forEach((at, seq) => { if (at <= t && seq > head) head = seq; });
    return head;
  };

  // ------------------------------------------------------------ expected pushes
  interface Expected { device: Device; msg: Msg; seq: number; span: Span; end: number }
  const expected = new Map<string, Expected>();
  for (const device of devices) {
    await breathe();
    const spans = device.spans;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      if (span.kind !== 'offline' || !span.bound) continue;
      const end = spans[i + 1]?.from ?? finalTime;
      const head = headAt(device.user, span.from);
      for (const { seq, msg } of msgsOf(device.user)) {
        if (seq <= span.ack) continue;
        if (msg.at >= end) continue; // committed after the device was back
        if (msg.at < span.from && seq <= head - REPLAY_LIMIT) continue; // beyond the replay window
        expected.set(`${device.id}|${msg.id}`, { device, msg, seq, span, end });
      }
    }
  }

  // ------------------------------------------------------------ received pushes
  const allowedExtra: Record<string, number> = {};
  const violationClasses: Record<string, number> = {};
  const violations: PushProblem[] = [];
  let violationsCount = 0;
  const byKey = new Map<string, PushRecord[]>();
  const byDevice = new Map<Device, PushRecord[]>();
  let unknownTokens = 0;
  let messagePushes = 0;
  const byVendor: Record<string, number> = {};
  const callPushes = { ring: 0, missed: 0, other: 0 };
  let violationsAfterKill = 0;
  const violation = (reason: string, device: Device, r: PushRecord, msg: Msg | undefined, span?: Span) => {
    violationsCount += 1;
    if (span?.reason?.startsWith('node_killed')) violationsAfterKill += 1;
    bump(violationClasses, reason);
    push(violations, {
      device: device.id, user: device.user.id, messageId: r.messageId ?? r.callId ?? '?', eventId: r.eventId ?? msg?.eventId ?? 0, at: msg?.at ?? 0,
      reason, token: r.token, receivedAt: r.receivedAt, ...(span?.reason?.startsWith('node_killed') ? { detail: `offline since the kill: ${span.reason}` } : {}),
    });
  };
  for (const r of source.records) {
    await breathe();
    bump(byVendor, r.vendor);
    const device = world.tokenToDevice.get(r.token);
    if (!device) {
      unknownTokens += 1;
      continue;
    }
    const isCall = r.messageId === undefined;
    if (isCall) {
      if (r.type === 'call_ring') callPushes.ring += 1;
      else if (r.type === 'missed_call') callPushes.missed += 1;
      else callPushes.other += 1;
    } else messagePushes += 1;
    // A call's ring and its end are once per call; a badge update (no call id) once per read event.
    const key = !isCall ? `${device.id}|${r.messageId}`
      : r.callId !== undefined ? `${device.id}|call|${r.callId}|${r.type}` : `${device.id}|${r.type}|event|${r.eventId}`;
    const list = byKey.get(key);
    if (list) list.push(r);
    else byKey.set(key, [r]);
    if (!isCall) {
      const dl = byDevice.get(device);
      if (dl) dl.push(r);
      else byDevice.set(device, [r]);
    }
    if (list) continue; // classify each (device, message) once; copies are counted below

    const msg = isCall ? undefined : world.msgs.get(r.messageId!);
    if (!isCall) {
      if (!msg) {
        violation('unknown_message', device, r, msg);
        continue;
      }
      if (msg.from === device.user.id || !recipientsOf(msg)?.has(device.user.id)) {
        violation('misrouted', device, r, msg);
        continue;
      }
      if (expected.has(key)) continue; // matched below
    }
    if (!source.timestamps) continue;
    const at = spanAt(device.spans, r.receivedAt);
    if (!at) {
      violation('before_first_login', device, r, msg);
      continue;
    }
    const { span } = at;
    switch (span.kind) {
      case 'online':
        if (r.receivedAt - span.from < RACE_MS) bump(allowedExtra, 'raced_reconnect');
        else violation('pushed_while_online', device, r, msg);
        break;
      case 'silent':
        if (r.receivedAt >= (span.deadline ?? 0) - 250) bump(allowedExtra, 'after_heartbeat_deadline');
        else violation('pushed_while_online', device, r, msg);
        break;
      case 'loggedOut':
        if (r.receivedAt - span.from < RACE_MS) bump(allowedExtra, 'raced_logout');
        else violation('pushed_while_logged_out', device, r, msg);
        break;
      case 'offline': {
        if (!span.bound) {
          violation('no_active_registration', device, r, msg, span);
          break;
        }
        const seq = msg ? device.user.inbox.get(msg.id) : undefined;
        if (seq !== undefined && seq <= span.ack) violation('pushed_after_ack', device, r, msg, span);
        else bump(allowedExtra, isCall ? 'call_while_offline' : 'offline_not_expected');
        break;
      }
    }
  }

  // ------------------------------------------------------------ duplicates
  let duplicateCount = 0;
  let crossChannelDuplicates = 0;
  let retransmits = 0;
  const duplicates: PushProblem[] = [];
  for (const [key, list] of byKey) {
    await breathe();
    if (list.length < 2) continue;
    const ids = new Set(list.map((r) => r.apnsId));
    retransmits += list.length - ids.size;
    if (ids.size > 1) {
      duplicateCount += ids.size - 1;
      if (new Set(list.map((r) => r.vendor)).size > 1) crossChannelDuplicates += 1;
      const device = world.tokenToDevice.get(list[0]!.token)!;
      push(duplicates, {
        device: device.id, user: device.user.id, messageId: list[0]!.messageId ?? key, eventId: list[0]!.eventId ?? 0, at: 0,
        reason: 'same message pushed twice with different idempotency keys', detail: list.map((r) => `${r.vendor}:${r.apnsId}@${r.receivedAt}`).join(', '),
      });
    }
  }

  // ------------------------------------------------------------ expected but not received: ask the outbox
  let matched = 0;
  const missing = new Map<Device, Expected[]>();
  for (const [key, e] of expected) {
    if (byKey.has(key)) matched += 1;
    else {
      const list = missing.get(e.device);
      if (list) list.push(e);
      else missing.set(e.device, [e]);
    }
  }
  let confirmedByOutbox = 0;
  let cancelledByReconnect = 0;
  let triggerLate = 0;
  let lostCount = 0;
  const lost: PushProblem[] = [];
  let uncheckedCount = 0;
  const unchecked: PushProblem[] = [];
  let outboxLookups = 0;
  const problem = (e: Expected, reason: string, detail?: string): PushProblem =>
    ({ device: e.device.id, user: e.device.user.id, messageId: e.msg.id, eventId: e.msg.eventId, at: e.msg.at, reason, ...(detail ? { detail } : {}) });
  const lose = (e: Expected, reason: string, detail?: string) => {
    lostCount += 1;
    push(lost, problem(e, reason, detail));
  };
  const queue = [...missing.entries()];
  const lookupDeadline = Date.now() + OUTBOX_LOOKUP_BUDGET_MS;
  let lookupFailures = 0;
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const [device, list] = item;
      let jobs: OutboxJob[] | undefined;
      if (outbox && Date.now() < lookupDeadline) {
        try {
          outboxLookups += 1;
          jobs = await outbox(device.user.id, device.id);
        } catch (error) {
          lookupFailures += 1;
          if (lookupFailures <= 3) note.push(`outbox lookup failed for ${device.id}: ${(error as Error).message}`);
        }
      }
      const byEvent = new Map((jobs ?? []).map((j) => [j.eventId, j]));
      for (const e of list) {
        if (!jobs && !outbox) {
          lose(e, 'no_push_seen_unverified', 'the outbox could not be checked');
          continue;
        }
        if (!jobs) {
          uncheckedCount += 1;
          push(unchecked, problem(e, 'no_push_seen_outbox_unchecked', 'the outbox lookup failed or ran out of its time budget'));
          continue;
        }
        const job = byEvent.get(e.msg.eventId);
        const due = Math.max(e.msg.at, e.span.from);
        const backSoon = e.end - due < BACK_ONLINE_ALLOWANCE_MS;
        const where = `device offline (${e.span.reason}) ${new Date(e.span.from).toISOString()} → ${new Date(e.end).toISOString()}, ack ${e.span.ack}, inbox seq ${e.seq}, committed ${new Date(e.msg.at).toISOString()}`;
        const reason = job?.lastReason ?? '';
        if (!job) {
          if (backSoon) triggerLate += 1;
          else lose(e, 'never_queued', where);
        } else if (job.state === 'delivered') {
          if (!source.complete) confirmedByOutbox += 1;
          else lose(e, 'delivered_per_outbox_but_not_received', `job ${job.jobKey} idempotency key ${job.idempotencyKey}; ${where}`);
        } else if (job.state === 'cancelled' && ['online', 'acked', 'collapsed', 'logged_out', 'kicked'].includes(reason)) {
          // logged_out/kicked: the device came back and logged out, or another user logged in on it.
          if (backSoon || reason === 'collapsed') cancelledByReconnect += 1;
          else lose(e, `cancelled_${reason}_while_offline`, `job ${job.jobKey}; ${where}`);
        } else {
          lose(e, `outbox_${job.state}${reason ? `:${reason}` : ''}`, `job ${job.jobKey}, attempts ${job.attempts}; ${where}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  if (lookupFailures > 3) note.push(`… ${lookupFailures - 3} more outbox lookups failed`);
  if (queue.length === 0 && Date.now() >= lookupDeadline && outbox) note.push(`outbox lookups stopped after ${OUTBOX_LOOKUP_BUDGET_MS / 1000} s; the rest count as unverified`);

  // ------------------------------------------------------------ timeout → push
  const timeoutToPush = new Latencies();
  let silentTimeoutsWithPush = 0;
  for (const device of devices) {
    await breathe();
    const pushes = (byDevice.get(device) ?? []).slice().sort((a, b) => a.receivedAt - b.receivedAt);
    if (pushes.length === 0) continue;
    const spans = device.spans;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      if (span.kind !== 'offline' || span.reason !== 'timeout' || span.deadline === undefined) continue;
      const end = spans[i + 1]?.from ?? finalTime;
      const first = pushes.find((r) => {
        if (r.receivedAt < span.deadline! - 250 || r.receivedAt >= end) return false;
        const msg = world.msgs.get(r.messageId!);
        return msg !== undefined && msg.at < span.from; // replayed at the timeout, not committed later
      });
      if (first) {
        silentTimeoutsWithPush += 1;
        timeoutToPush.add(first.receivedAt - span.deadline);
      }
    }
  }

  // ------------------------------------------------------------ kill → push
  const killToPush = new Latencies();
  let devicesPushedAfterKill = 0;
  const killed = world.kill !== undefined;
  for (const device of killed ? devices : []) {
    await breathe();
    const pushes = (byDevice.get(device) ?? []).slice().sort((a, b) => a.receivedAt - b.receivedAt);
    const spans = device.spans;
    for (let i = 0; i < spans.length && pushes.length > 0; i++) {
      const span = spans[i]!;
      if (span.kind !== 'offline' || !span.reason?.startsWith('node_killed')) continue;
      const end = spans[i + 1]?.from ?? finalTime;
      const first = pushes.find((r) => r.receivedAt >= span.from && r.receivedAt < end && (world.msgs.get(r.messageId!)?.at ?? Infinity) < span.from);
      if (first) {
        devicesPushedAfterKill += 1;
        killToPush.add(first.receivedAt - world.kill!.at);
      }
    }
  }

  return {
    source: source.kind, note, devicesWithTokens: devices.length, received: source.records.length, byVendor,
    devicesWithFallback: devices.filter((d) => d.fallback !== undefined).length, messagePushes, callPushes, unknownTokens,
    expected: expected.size, matched, triggerLate, confirmedByOutbox, cancelledByReconnect, allowedExtra, lostCount, lost, uncheckedCount, unchecked,
    violationsCount, violations, violationClasses, duplicateCount, crossChannelDuplicates, duplicates, retransmits, outboxLookups,
    timeoutToPush: timeoutToPush.summary(), timeoutToPushSamples: timeoutToPush, silentTimeoutsWithPush,
    ...(killed ? { killToPush: killToPush.summary(), devicesPushedAfterKill, violationsAfterKill } : {}),
  };
}
