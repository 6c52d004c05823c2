/**
 * The simulated population and what it does: users with one or two devices, contacts for peer
 * chats, groups of 3–100 with a little membership churn, calls, read receipts, and the churn of
 * devices closing, going silent (half-open) and logging out. Everything random comes from one
 * seeded PRNG. The world also records what the accounting needs: every message the server
 * committed for our users, each user's inbox (messageId → seq), every device's received seqs,
 * group membership changes by eventId, and each call's terminal event.
 */
import { performance } from 'node:perf_hooks';
import { mintToken } from '../../server/auth/tokens.ts';
import type { UrlPicker } from './balancer.ts';
import { Device, type Conn, type DeviceHost, type DeviceState, type PendingSend, type Platform, type User } from './device.ts';

export type { User } from './device.ts';
import { Rng } from './prng.ts';
import type { LoadVendor } from './push-source.ts';
import { Latencies, Timeline, WindowedLatencies } from './stats.ts';

/** Per second, the share of devices (live for ≥ 2 s) that do each of these. */
export const CHURN = { close: 0.006, silent: 0.002, logout: 0.0015 } as const;
const GROUP_MESSAGE_SHARE = 0.3;
const CALLS_PER_DEVICE_PER_MIN = 0.2;
const READ_RECEIPT_CHANCE = 0.02;
const GROUP_LEAVES_PER_GROUP_PER_SEC = 0.01;
const CONTACTS = 5;
/** A hang-up not followed by the call's end within this is asked for again (drain only). */
const CALL_END_RETRY_MS = 3000;
const PAD = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua '.repeat(2);
const TERMINAL = new Set(['rejected', 'timed_out', 'cancelled', 'ended']);
/** Far above any inbox a bounded run reaches; a bigger seq would turn the user's eventAt array sparse. */
const MAX_TRACKED_SEQ = 10_000_000;
/**
 * Android devices with push: which channel they register, by share (Huawei, Honor, Xiaomi, OPPO
 * and vivo phones use their maker's channel; the rest FCM). Half of the OEM phones also register
 * an FCM token (the fallback), so carrier choice must push each event once through the OEM.
 */
const ANDROID_MIX: ReadonlyArray<[LoadVendor, number]> = [['huawei', 0.12], ['honor', 0.08], ['xiaomi', 0.12], ['oppo', 0.1], ['vivo', 0.08], ['fcm', 0.5]];
const OEM_WITH_FCM = 0.5;
/** Browsers that subscribe to Web Push. */
const WEB_PUSH_SHARE = 0.7;


export interface Msg {
  id: string;
  from: string;
  clientMsgId: string;
  to: { user: string } | { group: string };
  conversation: string;
  eventId: number;
  at: number;
  acked: boolean;
  observed: boolean;
  /** When the tool first heard of it (its send_ack, or an inbox it reached): Date.now(). */
  knownAt: number;
}

export interface CallInfo {
  callId: string;
  inviter: string | undefined;
  invitees: string[];
  lastEventId: number;
  lastState: string;
  terminalEventId: number | undefined;
  decided: Set<string>;
  acceptedBy: Set<string>;
  /**
   * When a hang-up was last asked for; the drain asks again after CALL_END_RETRY_MS without the
   * call ending (the request may have been refused `overloaded`, or its socket closed before the answer).
   */
  endRequestedAt: number | undefined;
}

export interface DuplicateReceipt {
  device: string;
  user: string;
  seq: number;
  kind: string;
  eventId: number;
  messageId?: string;
}

export class Membership {
  readonly created = new Map<string, { eventId: number; members: string[] }>();
  readonly changes = new Map<string, Map<number, { user: string; join: boolean }>>();
  #sorted = new Map<string, Array<{ eventId: number; user: string; join: boolean }>>();

  onCreated(groupId: string, eventId: number, members: string[]): void {
    if (!this.created.has(groupId)) this.created.set(groupId, { eventId, members: [...new Set(members)] });
  }

  onChange(groupId: string, eventId: number, user: string, join: boolean): void {
    let map = this.changes.get(groupId);
    if (!map) this.changes.set(groupId, (map = new Map()));
    map.set(eventId, { user, join });
    this.#sorted.delete(groupId);
  }

  /** Members of the group just before `eventId` (whom a message with that eventId fans out to). */
  membersAt(groupId: string, eventId: number): Set<string> | undefined {
    const created = this.created.get(groupId);
    if (!created || created.eventId >= eventId) return undefined;
    let sorted = this.#sorted.get(groupId);
    if (!sorted) {
      sorted = [...(this.changes.get(groupId) ?? new Map()).entries()].map(([e, c]) => ({ eventId: e, ...c })).sort((a, b) => a.eventId - b.eventId);
      this.#sorted.set(groupId, sorted);
    }
    const members = new Set(created.members);
    for (const change of sorted) {
      if (change.eventId >= eventId) break;
      if (change.eventId <= created.eventId) continue;
      if (change.join) members.add(change.user);
      else members.delete(change.user);
    }
    return members;
  }
}

export interface WorldOptions {
  faults?: { dropEvent: number; dupSync: number };
  /** Where each new connection goes (one server, or a random live node of a cluster). */
  target: UrlPicker;
  secret: string;
  devices: number;
  rate: number;
  groups: number;
  seed: number;
  runId: string;
  /** Credential name per channel; a channel without one is not registered (APNs/FCM devices only, against --url). */
  credentials: Partial<Record<LoadVendor, string>>;
  /** Browser subscriptions for Web Push devices (from the fake Web Push service). */
  subscriptions?: Array<{ endpoint: string; keys: Record<string, string> }>;
  /** Layout of the per-window latency record: window width and the planned run length. */
  latencyWindowMs: number;
  durationMs: number;
}

export type Phase = 'setup' | 'run' | 'drain' | 'final' | 'done';

/** A node SIGKILLed during the run (--kill-node-at), and what it took down. */
export interface NodeKill {
  url: string;
  at: number;
  /** Device sockets on it at the kill, by device state. */
  devicesByState: Record<string, number>;
  /** Abandoned (half-open) sockets of earlier silences still on it. */
  abandonedSockets: number;
  /** Closes seen afterwards on those sockets, by the state the device was in. */
  closesByState: Record<string, number>;
}

export class World implements DeviceHost {
  readonly target: UrlPicker;
  readonly rng: Rng;
  readonly options: WorldOptions;
  readonly users: User[] = [];
  readonly userById = new Map<string, User>();
  readonly devices: Device[] = [];
  readonly groups = new Map<string, { id: string; size: number; members: Set<string> }>();
  readonly membership = new Membership();
  readonly msgs = new Map<string, Msg>();
  readonly calls = new Map<string, CallInfo>();
  readonly tokenToDevice = new Map<string, Device>();
  readonly abandoned = new Set<Conn>();
  readonly sentAt = new Map<string, number>();
  readonly latAck = new Latencies();
  readonly latDeliver = new Latencies();
  /** The same samples as latAck / latDeliver, by the window of the run their send fell in. */
  readonly windowsAck: WindowedLatencies;
  readonly windowsDeliver: WindowedLatencies;
  /** ping → pong round trips: how responsive the server's event loop was. */
  readonly latPing = new Latencies();
  /** new WebSocket → open; login → login_ok; sync → sync_done. */
  readonly latConnect = new Latencies();
  readonly latLogin = new Latencies();
  readonly latSync = new Latencies();
  readonly timeline = new Timeline();
  readonly errors = new Map<string, number>();
  readonly closeCodes = new Map<string, number>();
  readonly abandonedCloseCodes = new Map<string, number>();
  readonly sendRejected = new Map<string, number>();
  readonly duplicates: DuplicateReceipt[] = [];
  duplicateCount = 0;
  /**
   * When the final resyncs were sent. A message the tool first heard of after that may have been
   * committed after them (a server still working through its queue), so no final resync could
   * show whether it reached a device that did not get it live.
   */
  finalSyncAt: number | undefined;
  readonly inboxConflicts: Array<{ user: string; key: string; seqs: number[] }> = [];
  readonly stats = {
    sent: 0, acked: 0, dupAcks: 0, resends: 0, delivered: 0, liveDelivered: 0, logins: 0, registrations: 0,
    tokenRotations: 0, closes: 0, silences: 0, logouts: 0, silentTimeouts: 0, silentReplaced: 0, unexpectedCloses: 0,
    callsStarted: 0, callsCreated: 0, callAnswers: 0, callEnds: 0, reads: 0, readEvents: 0, groupLeaves: 0, groupJoins: 0,
    groupsCreated: 0, connectTimeouts: 0,
    /** Events a final resync repeated because they were still on their way when it was asked for. */
    syncOverlaps: 0,
  };
  heartbeat = { intervalMs: 30_000, timeoutMs: 90_000 };
  phase: Phase = 'setup';
  connecting = 0;
  pushesSeen = 0;
  #rejoins: Array<{ user: User; groupId: string; at: number }> = [];
  #leaving = new Set<string>();
  #timers = new Set<NodeJS.Timeout>();
  #groupCreates = new Map<string, { members: string[]; creator: string }>();
  groupCreateReplies = 0;
  kill: NodeKill | undefined;
  /** Self-test faults (a separate PRNG, so the seeded mix stays the same) and how often they fired. */
  readonly faults: { dropEvent: number; dupSync: number };
  readonly faultRng: Rng;
  readonly injected = { dropEvent: 0, dupSync: 0, dropPush: 0, dupPush: 0 };

  constructor(options: WorldOptions) {
    this.faults = options.faults ?? { dropEvent: 0, dupSync: 0 };
    this.faultRng = new Rng(options.seed ^ 0x5bd1e995);
    this.options = options;
    this.target = options.target;
    this.rng = new Rng(options.seed);
    this.windowsAck = new WindowedLatencies(options.latencyWindowMs, options.durationMs);
    this.windowsDeliver = new WindowedLatencies(options.latencyWindowMs, options.durationMs);
    this.#populate();
  }

  credentialFor(provider: LoadVendor): string {
    return this.options.credentials[provider]!;
  }

  #subscriptions = 0;
  /** The next unused browser subscription, if any are left. */
  takeSubscription(): { endpoint: string; keys: Record<string, string> } | undefined {
    return this.options.subscriptions?.[this.#subscriptions++];
  }

  /** Which channel a new device of this platform registers (and whether FCM as well), from the seeded PRNG. */
  #channelFor(platform: Platform): { provider: LoadVendor | undefined; fallback?: 'fcm' } {
    const { rng } = this;
    const has = (v: LoadVendor) => this.options.credentials[v] !== undefined;
    if (platform === 'ios') return { provider: rng.chance(0.85) ? 'apns' : undefined };
    if (platform === 'web') {
      const wants = rng.chance(WEB_PUSH_SHARE);
      return { provider: wants && has('webpush') && (this.options.subscriptions?.length ?? 0) > this.#subscriptions ? 'webpush' : undefined };
    }
    if (platform !== 'android' || !rng.chance(0.85)) return { provider: undefined };
    let r = rng.next();
    let vendor: LoadVendor = 'fcm';
    for (const [v, share] of ANDROID_MIX) {
      if (r < share) {
        vendor = v;
        break;
      }
      r -= share;
    }
    if (vendor === 'fcm' || !has(vendor)) return { provider: 'fcm' };
    return rng.chance(OEM_WITH_FCM) ? { provider: vendor, fallback: 'fcm' } : { provider: vendor };
  }

  #populate(): void {
    const { rng, options } = this;
    const userCount = Math.min(options.devices, Math.ceil(options.devices * 0.8));
    const twoDevices = options.devices - userCount;
    const tokenTtlSec = 6 * 3600;
    for (let i = 0; i < userCount; i++) {
      const id = `${options.runId}u${i}`;
      const user: User = { id, index: i, token: mintToken(options.secret, id, tokenTtlSec), devices: [], contacts: [], groups: new Set(), groupList: [], inbox: new Map(), callEvents: new Map(), eventAt: [] };
      this.users.push(user);
      this.userById.set(id, user);
    }
    for (const user of this.users) {
      const count = user.index < twoDevices ? 2 : 1;
      for (let k = 0; k < count; k++) {
        const r = rng.next();
        const platform: Platform = k === 0
          ? (r < 0.45 ? 'ios' : r < 0.85 ? 'android' : r < 0.95 ? 'web' : 'desktop')
          : (r < 0.5 ? 'desktop' : r < 0.7 ? 'web' : r < 0.85 ? 'ios' : 'android');
        const { provider, fallback } = this.#channelFor(platform);
        const device = new Device(this, user, `${user.id}d${k}`, platform, provider, fallback);
        user.devices.push(device);
        this.devices.push(device);
      }
      const others = this.users.filter((u) => u !== user);
      user.contacts = rng.sample(others, CONTACTS).map((u) => u.id);
    }
    if (this.users.length >= 3) {
      for (let g = 0; g < options.groups; g++) {
        const size = Math.min(this.users.length, 3 + Math.floor(97 * rng.next() ** 3));
        const members = rng.sample(this.users, size).map((u) => u.id);
        const id = `${options.runId}g${g}`;
        this.groups.set(id, { id, size, members: new Set() });
        this.#groupCreates.set(id, { members, creator: members[0]! });
      }
    }
  }

  // ----------------------------------------------------------------------------- bookkeeping

  error(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    this.timeline.inc('errors', Date.now());
  }

  #bump(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  /** Run `fn` after `ms` unless the run reached its final accounting by then. */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.phase !== 'final' && this.phase !== 'done') fn();
    }, ms);
    this.#timers.add(timer);
  }

  clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #call(callId: string): CallInfo {
    let call = this.calls.get(callId);
    if (!call) {
      call = { callId, inviter: undefined, invitees: [], lastEventId: 0, lastState: 'ringing', terminalEventId: undefined, decided: new Set(), acceptedBy: new Set(), endRequestedAt: undefined };
      this.calls.set(callId, call);
    }
    return call;
  }

  #inbox<K>(user: User, map: Map<K, number>, key: K, seq: number): void {
    const prev = map.get(key);
    if (prev === undefined) map.set(key, seq);
    else if (prev !== seq) this.inboxConflicts.push({ user: user.id, key: String(key), seqs: [prev, seq] });
  }

  liveDeviceOf(userId: string): Device | undefined {
    const user = this.userById.get(userId);
    return user?.devices.find((d) => d.state === 'live');
  }

  // ----------------------------------------------------------------------------- device callbacks

  onLoginOk(device: Device, frame: Record<string, unknown>): void {
    const interval = Number(frame.heartbeatIntervalMs);
    const timeout = Number(frame.heartbeatTimeoutMs);
    if (interval > 0 && timeout > 0) this.heartbeat = { intervalMs: interval, timeoutMs: timeout };
    this.stats.logins += 1;
    this.timeline.inc('logins', Date.now());
  }

  onLive(_device: Device): void {
    this.connecting = Math.max(0, this.connecting - 1);
  }

  onDisconnected(_device: Device, was: DeviceState, code: number): void {
    if (this.phase === 'done') return; // the tool closing its own sockets at the end
    this.timeline.inc('closes', Date.now());
    if (was === 'connecting' || was === 'syncing') this.connecting = Math.max(0, this.connecting - 1);
    if (was === 'silent') {
      if (code === 1006) this.stats.silentTimeouts += 1;
      else this.#bump(this.closeCodes, `silent:${code}`);
    } else if (was !== 'closing' && was !== 'loggingOut') {
      this.stats.unexpectedCloses += 1;
      this.#bump(this.closeCodes, `${was}:${code}`);
      this.error(`closed:${code}`);
    }
  }

  /** Before the node at `url` is SIGKILLed: the closes its sockets will see are the kill's. */
  onNodeKilled(url: string, at: number): NodeKill {
    const kill: NodeKill = { url, at, devicesByState: {}, abandonedSockets: 0, closesByState: {} };
    for (const d of this.devices) {
      if (!d.conn || d.conn.closed || d.conn.url !== url) continue;
      d.conn.killed = true;
      this.#bumpIn(kill.devicesByState, d.state);
    }
    for (const conn of this.abandoned) {
      if (conn.url !== url || conn.closed) continue;
      conn.killed = true;
      kill.abandonedSockets += 1;
    }
    this.kill = kill;
    return kill;
  }

  #bumpIn(record: Record<string, number>, key: string): void {
    record[key] = (record[key] ?? 0) + 1;
  }

  onKilledClose(_device: Device, was: DeviceState): void {
    if (this.phase === 'done') return;
    this.timeline.inc('closes', Date.now());
    if (was === 'connecting' || was === 'syncing') this.connecting = Math.max(0, this.connecting - 1);
    if (this.kill) this.#bumpIn(this.kill.closesByState, was);
  }

  onAbandonedClose(conn: Conn, code: number): void {
    if (this.abandoned.delete(conn)) this.#bump(this.abandonedCloseCodes, String(code));
  }

  onSend(device: Device, pending: PendingSend): void {
    this.stats.sent += 1;
    this.sentAt.set(`${device.user.id}|${pending.clientMsgId}`, pending.firstSentAt);
    this.timeline.inc('sent', Date.now());
  }

  onSendAck(device: Device, frame: Record<string, unknown>, pending: PendingSend | undefined): void {
    const id = String(frame.messageId);
    let msg = this.msgs.get(id);
    if (!msg) {
      const to = pending?.to ?? (String(frame.conversation).startsWith('g:') ? { group: String(frame.conversation).slice(2) } : { user: '?' });
      msg = { id, from: device.user.id, clientMsgId: String(frame.clientMsgId), to, conversation: String(frame.conversation), eventId: Number(frame.eventId), at: Number(frame.at), acked: false, observed: false, knownAt: Date.now() };
      this.msgs.set(id, msg);
    }
    if (frame.duplicate === true) this.stats.dupAcks += 1;
    this.#inbox(device.user, device.user.inbox, id, Number(frame.seq));
    if (!msg.acked) {
      msg.acked = true;
      this.stats.acked += 1;
      this.timeline.inc('acked', Date.now());
    }
    if (pending && frame.duplicate !== true && pending.attempts === 1 && pending.conn === device.conn) {
      const ms = performance.now() - pending.firstSentAt;
      this.latAck.add(ms);
      this.windowsAck.add(pending.firstSentAt, ms);
    }
  }

  onSendRejected(_device: Device, _pending: PendingSend, code: string): void {
    this.#bump(this.sendRejected, code);
  }

  onRequestError(_device: Device, label: string, code: string, _ref: string): void {
    this.error(`${label}:${code}`);
  }

  onDuplicate(device: Device, ev: Record<string, unknown>): void {
    this.duplicateCount += 1;
    if (this.duplicates.length < 10_000) {
      this.duplicates.push({
        device: device.id, user: device.user.id, seq: ev.seq as number, kind: String(ev.kind), eventId: ev.eventId as number,
        ...(typeof ev.messageId === 'string' ? { messageId: ev.messageId } : {}),
      });
    }
  }

  onEvent(device: Device, ev: Record<string, unknown>, live: boolean): void {
    const user = device.user;
    const seq = ev.seq as number;
    const eventId = ev.eventId as number;
    if (Number.isSafeInteger(seq) && seq > 0 && seq <= MAX_TRACKED_SEQ) user.eventAt[seq] = ev.at as number;
    switch (ev.kind) {
      case 'message': {
        const id = String(ev.messageId);
        this.#inbox(user, user.inbox, id, seq);
        let msg = this.msgs.get(id);
        const from = String(ev.from);
        if (!msg && this.userById.has(from)) {
          // Committed but not (yet) acked to its sender: known from the log itself.
          msg = { id, from, clientMsgId: String(ev.clientMsgId), to: ev.to as Msg['to'], conversation: String(ev.conversation), eventId, at: ev.at as number, acked: false, observed: true, knownAt: Date.now() };
          this.msgs.set(id, msg);
        }
        if (msg) msg.observed = true;
        this.stats.delivered += 1;
        this.timeline.inc('delivered', Date.now());
        if (live && from !== user.id) {
          this.stats.liveDelivered += 1;
          const sentAt = this.sentAt.get(`${from}|${String(ev.clientMsgId)}`);
          if (sentAt !== undefined) {
            const ms = performance.now() - sentAt;
            this.latDeliver.add(ms);
            this.windowsDeliver.add(sentAt, ms);
          }
          if (this.phase === 'run' && this.rng.chance(READ_RECEIPT_CHANCE)) {
            const conversation = String(ev.conversation);
            this.later(200 + this.rng.int(0, 800), () => {
              if (device.state !== 'live' || this.phase !== 'run') return;
              this.stats.reads += 1;
              device.request({ type: 'read', ref: 'D', conversation, upTo: eventId });
            });
          }
        }
        return;
      }
      case 'group_created':
        this.membership.onCreated(String(ev.groupId), eventId, ev.members as string[]);
        return;
      case 'member_joined':
      case 'member_left':
        this.membership.onChange(String(ev.groupId), eventId, String(ev.user), ev.kind === 'member_joined');
        return;
      case 'call_invited': {
        this.#inbox(user, user.callEvents, eventId, seq);
        const call = this.#call(String(ev.callId));
        call.inviter = String(ev.from);
        call.invitees = ev.invitees as string[];
        if (eventId > call.lastEventId) {
          call.lastEventId = eventId;
          call.lastState = 'ringing';
        }
        if (live && this.phase === 'run' && call.invitees.includes(user.id) && !call.decided.has(user.id)) this.#answerLater(device, call);
        return;
      }
      case 'call_state': {
        this.#inbox(user, user.callEvents, eventId, seq);
        const call = this.#call(String(ev.callId));
        if (ev.action === 'timeout') call.inviter ??= String(ev.from);
        if (call.invitees.length === 0) call.invitees = Object.keys(ev.invitees as Record<string, string>);
        const state = String(ev.state);
        if (ev.action === 'accept') call.acceptedBy.add(String(ev.from));
        if (eventId > call.lastEventId) {
          call.lastEventId = eventId;
          call.lastState = state;
        }
        if (TERMINAL.has(state)) call.terminalEventId = eventId;
        return;
      }
      case 'read':
        this.stats.readEvents += 1;
        return;
      default:
        return;
    }
  }

  /** An invitee's device decides once per user: accept (then hang up a bit later), reject, or let it ring out. */
  #answerLater(device: Device, call: CallInfo): void {
    call.decided.add(device.user.id);
    const r = this.rng.next();
    if (r >= 0.65) return; // ignore: the server times the invitation out after 5 s
    const action = r < 0.4 ? 'call_accept' : 'call_reject';
    this.later(300 + this.rng.int(0, 1700), () => {
      if (device.state !== 'live') return;
      this.stats.callAnswers += 1;
      device.request({ type: action, ref: `A${call.callId}`, callId: call.callId });
      if (action === 'call_accept') {
        this.later(1000 + this.rng.int(0, 3000), () => {
          if (device.state !== 'live' || call.endRequestedAt !== undefined) return;
          call.endRequestedAt = Date.now();
          this.stats.callEnds += 1;
          device.request({ type: 'call_end', ref: `E${call.callId}`, callId: call.callId });
        });
      }
    });
  }

  onCallCreated(device: Device, frame: Record<string, unknown>): void {
    const call = this.#call(String(frame.callId));
    call.inviter ??= device.user.id;
    this.stats.callsCreated += 1;
  }

  onGroupCreatedReply(device: Device, frame: Record<string, unknown>): void {
    const groupId = String(frame.groupId);
    const plan = this.#groupCreates.get(groupId);
    const group = this.groups.get(groupId);
    if (!plan || !group) return;
    this.groupCreateReplies += 1;
    this.stats.groupsCreated += 1;
    this.membership.onCreated(groupId, Number(frame.eventId), [device.user.id, ...plan.members]);
    for (const member of new Set([device.user.id, ...plan.members])) {
      group.members.add(member);
      const user = this.userById.get(member);
      if (user) {
        user.groups.add(groupId);
        user.groupList = [...user.groups];
      }
    }
  }

  onMembershipOk(device: Device, frame: Record<string, unknown>): void {
    const ref = String(frame.ref ?? '');
    const groupId = ref.slice(2);
    const join = frame.for === 'group_join';
    const user = device.user;
    const group = this.groups.get(groupId);
    this.#leaving.delete(`${user.id}|${groupId}`);
    if (!group) return;
    if (typeof frame.eventId === 'number') this.membership.onChange(groupId, frame.eventId, user.id, join);
    if (join) {
      group.members.add(user.id);
      user.groups.add(groupId);
      this.stats.groupJoins += 1;
    } else {
      group.members.delete(user.id);
      user.groups.delete(groupId);
      this.stats.groupLeaves += 1;
      this.#rejoins.push({ user, groupId, at: Date.now() + 2000 + this.rng.int(0, 4000) });
    }
    user.groupList = [...user.groups];
  }

  // ----------------------------------------------------------------------------- phases

  /** Send group_create for every planned group (from a live device of its creator). */
  createGroups(): number {
    let requested = 0;
    for (const [groupId, plan] of this.#groupCreates) {
      const device = this.liveDeviceOf(plan.creator);
      if (!device) continue;
      device.request({ type: 'group_create', ref: `N${groupId}`, groupId, name: `load ${groupId}`, members: plan.members.filter((m) => m !== plan.creator), joinPolicy: 'open' });
      requested += 1;
    }
    return requested;
  }

  startRun(now: number): void {
    this.phase = 'run';
    this.timeline.start(now);
    // Sends are timed on performance.now(); the windows start on that clock too.
    const perfNow = performance.now();
    this.windowsAck.start(perfNow);
    this.windowsDeliver.start(perfNow);
    const { rate } = this.options;
    for (const device of this.devices) {
      device.nextSendAt = rate > 0 ? now + this.rng.exp(60_000 / rate) : Number.POSITIVE_INFINITY;
      device.nextCallAt = now + this.rng.exp(60_000 / CALLS_PER_DEVICE_PER_MIN);
    }
  }

  /** Every 100 ms: sends, calls, acks, heartbeats, reconnects, stuck connections. */
  tick(now: number): void {
    const perfNow = performance.now();
    const { intervalMs } = this.heartbeat;
    const rate = this.options.rate;
    for (const device of this.devices) {
      switch (device.state) {
        case 'live':
          if (this.phase === 'run') {
            if (now >= device.nextSendAt) {
              device.nextSendAt = now + this.rng.exp(60_000 / rate);
              this.#sendOne(device);
            }
            if (now >= device.nextCallAt) {
              device.nextCallAt = now + this.rng.exp(60_000 / CALLS_PER_DEVICE_PER_MIN);
              this.#startCall(device);
            }
          }
          device.resendPending(perfNow);
          device.flushAck();
          device.heartbeat(now, intervalMs);
          break;
        case 'syncing':
          device.flushAck();
          device.heartbeat(now, intervalMs);
          if (device.conn && now - device.conn.openedAt > 30_000) this.#stuck(device, now);
          break;
        case 'connecting':
          if (device.conn && now - device.conn.openedAt > 20_000) this.#stuck(device, now);
          break;
        case 'closing':
        case 'loggingOut':
          // The server answers a close or logout at once; do not wait for ws's 30 s close timeout.
          if (device.conn && now - device.conn.lastSentAt > 5000) device.conn.ws.terminate();
          break;
        case 'offline':
        case 'silent':
          if (device.comebackAt !== undefined && now >= device.comebackAt && this.phase !== 'final' && this.phase !== 'done') {
            if (device.state === 'silent') this.stats.silentReplaced += 1;
            device.comeback();
          }
          break;
      }
    }
  }

  #stuck(device: Device, now: number): void {
    this.stats.connectTimeouts += 1;
    this.error('connect_timeout');
    this.connecting = Math.max(0, this.connecting - 1);
    device.abortConnect();
    device.comebackAt = now + 1000;
  }

  #sendOne(device: Device): void {
    const user = device.user;
    const n = device.sendCounter + 1;
    const text = `${device.id}#${n} ${PAD.slice(0, this.rng.int(0, 150))}`;
    if (user.groupList.length > 0 && this.rng.chance(GROUP_MESSAGE_SHARE)) device.sendMessage({ group: this.rng.pick(user.groupList) }, text);
    else if (user.contacts.length > 0) device.sendMessage({ user: this.rng.pick(user.contacts) }, text);
  }

  #startCall(device: Device): void {
    if (device.user.contacts.length === 0) return;
    const invitees = this.rng.sample(device.user.contacts, this.rng.int(1, 3));
    this.stats.callsStarted += 1;
    device.request({ type: 'call_invite', ref: device.nextRef('C'), invitees, timeoutSec: 5, data: '{"media":"audio"}' });
  }

  /** Every second during the run: devices close, go silent, log out; group members leave and rejoin. */
  churn(now: number): void {
    if (this.phase !== 'run') return;
    const { rng } = this;
    const { timeoutMs } = this.heartbeat;
    const candidates = this.devices.filter((d) => d.state === 'live' && now - d.liveSince >= 2000);
    const closes = rng.count(candidates.length * CHURN.close);
    const silences = rng.count(candidates.length * CHURN.silent);
    const logouts = rng.count(candidates.length * CHURN.logout);
    const chosen = rng.sample(candidates, closes + silences + logouts);
    chosen.forEach((device, i) => {
      if (i < closes) {
        this.stats.closes += 1;
        device.closeCleanly(now, now + rng.range(1000, 8000));
      } else if (i < closes + silences) {
        this.stats.silences += 1;
        device.goSilent(now, timeoutMs, now + timeoutMs * rng.range(1, 3));
      } else {
        this.stats.logouts += 1;
        device.logout(now, now + rng.range(1000, 5000), rng.chance(0.5));
      }
    });
    const groups = [...this.groups.values()];
    for (let i = rng.count(groups.length * GROUP_LEAVES_PER_GROUP_PER_SEC); i > 0 && groups.length > 0; i--) {
      const group = rng.pick(groups);
      if (group.members.size < 3) continue;
      const userId = rng.pick([...group.members]);
      const key = `${userId}|${group.id}`;
      const device = this.liveDeviceOf(userId);
      if (!device || this.#leaving.has(key)) continue;
      this.#leaving.add(key);
      device.request({ type: 'group_leave', ref: `G-${group.id}`, groupId: group.id });
    }
    const due = this.#rejoins.filter((r) => r.at <= now);
    this.#rejoins = this.#rejoins.filter((r) => r.at > now);
    for (const r of due) {
      const device = r.user.devices.find((d) => d.state === 'live');
      if (!device) {
        r.at = now + 1000;
        this.#rejoins.push(r);
        continue;
      }
      device.request({ type: 'group_join', ref: `G+${r.groupId}`, groupId: r.groupId });
    }
  }

  /** Drain: no new activity; every device comes back now (silent ones abandon their socket). */
  beginDrain(now: number): void {
    this.phase = 'drain';
    this.#rejoins = [];
    for (const device of this.devices) {
      device.kicked = false;
      if (device.state === 'offline' || device.state === 'silent') device.comebackAt = now;
    }
  }

  /** Accepted calls nobody hung up: end them from a live party device so every call is over. */
  endOpenCalls(): void {
    for (const call of this.calls.values()) {
      if (call.terminalEventId !== undefined || call.lastState !== 'accepted') continue;
      if (call.endRequestedAt !== undefined && Date.now() - call.endRequestedAt < CALL_END_RETRY_MS) continue;
      const parties = [call.inviter, ...call.acceptedBy].filter((u): u is string => u !== undefined);
      for (const userId of parties) {
        const device = this.liveDeviceOf(userId);
        if (!device) continue;
        if (call.endRequestedAt === undefined) this.stats.callEnds += 1;
        call.endRequestedAt = Date.now();
        device.request({ type: 'call_end', ref: `E${call.callId}`, callId: call.callId });
        break;
      }
    }
  }

  counts(): { live: number; syncing: number; connecting: number; silent: number; offline: number; closing: number; openSockets: number; pendingSends: number } {
    const c = { live: 0, syncing: 0, connecting: 0, silent: 0, offline: 0, closing: 0, openSockets: 0, pendingSends: 0 };
    for (const d of this.devices) {
      if (d.state === 'live') c.live++;
      else if (d.state === 'syncing') c.syncing++;
      else if (d.state === 'connecting') c.connecting++;
      else if (d.state === 'silent') c.silent++;
      else if (d.state === 'offline') c.offline++;
      else c.closing++;
      if (d.conn && !d.conn.closed) c.openSockets++;
      c.pendingSends += d.pending.size;
    }
    c.openSockets += this.abandoned.size;
    return c;
  }

  unfinishedCalls(): number {
    let n = 0;
    for (const call of this.calls.values()) if (call.terminalEventId === undefined) n++;
    return n;
  }
}
