/**
 * One simulated device: a WebSocket, the login → sync → live state machine of docs/PROTOCOL.md,
 * a cursor (newest inbox seq received) that survives reconnects, batched acks, heartbeats, an
 * outbox of unacknowledged sends that is resent with the same clientMsgId after a reconnect, and
 * a timeline of what the server should believe about it (online, silent, offline, logged out),
 * which push accounting reads at the end.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { UrlPicker } from './balancer.ts';
import type { Rng } from './prng.ts';
import type { LoadVendor } from './push-source.ts';
import type { Latencies } from './stats.ts';

export type DeviceState = 'offline' | 'connecting' | 'syncing' | 'live' | 'silent' | 'closing' | 'loggingOut';
export type Platform = 'ios' | 'android' | 'web' | 'desktop';

/** A simulated user: its devices, its contacts and groups, and what the server put in its inbox. */
export interface User {
  id: string;
  index: number;
  token: string;
  devices: Device[];
  contacts: string[];
  groups: Set<string>;
  groupList: string[];
  /** messageId → seq in this user's inbox. */
  inbox: Map<string, number>;
  /** eventId of call events (call_invited, call_state) → seq in this user's inbox. */
  callEvents: Map<number, number>;
  /**
   * Index seq → commit time, for every event any device of this user received (push replay
   * window). An array, not a Map: seqs are dense, and over a 20-minute run the Maps of 4,000 users
   * held ~9 M boxed entries that the tool's GC had to walk.
   */
  eventAt: number[];
}

/**
 * What a device reports to and asks of the run it belongs to (the World): where to connect, the
 * shared random streams and counters, and one callback per protocol moment the accounting needs.
 * The device never reads the accounting's books; it only tells them what happened.
 */
export interface DeviceHost {
  readonly target: UrlPicker;
  readonly rng: Rng;
  readonly faults: { dropEvent: number; dupSync: number };
  readonly faultRng: Rng;
  readonly injected: { dropEvent: number; dupSync: number };
  readonly stats: { registrations: number; resends: number; tokenRotations: number; syncOverlaps: number };
  readonly latConnect: Latencies;
  readonly latLogin: Latencies;
  readonly latSync: Latencies;
  readonly latPing: Latencies;
  readonly tokenToDevice: Map<string, Device>;
  /** Sockets the device gave up on (replaced, half-open); their late close codes are counted apart. */
  readonly abandoned: Set<Conn>;
  connecting: number;
  credentialFor(provider: LoadVendor): string;
  takeSubscription(): { endpoint: string; keys: Record<string, string> } | undefined;
  error(code: string): void;
  onLoginOk(device: Device, frame: Record<string, unknown>): void;
  onLive(device: Device): void;
  onDisconnected(device: Device, was: DeviceState, code: number): void;
  onKilledClose(device: Device, was: DeviceState): void;
  onAbandonedClose(conn: Conn, code: number): void;
  onSend(device: Device, pending: PendingSend): void;
  onSendAck(device: Device, frame: Record<string, unknown>, pending: PendingSend | undefined): void;
  onSendRejected(device: Device, pending: PendingSend, code: string): void;
  onRequestError(device: Device, label: string, code: string, ref: string): void;
  onDuplicate(device: Device, ev: Record<string, unknown>): void;
  onEvent(device: Device, ev: Record<string, unknown>, live: boolean): void;
  onCallCreated(device: Device, frame: Record<string, unknown>): void;
  onGroupCreatedReply(device: Device, frame: Record<string, unknown>): void;
  onMembershipOk(device: Device, frame: Record<string, unknown>): void;
}

/**
 * What the server should believe about the device from `from` until the next span starts.
 * `online` starts when the login is sent; `silent` when the device stops sending (the server
 * still sees it online until `deadline` = last frame + heartbeat timeout); `offline` when it
 * closed, was dropped, or (after silence) saw the server cut the connection; `loggedOut` when it
 * sent `logout`. `ack` is the newest seq acked when the span started; `bound` whether an active
 * push registration existed then.
 */
export interface Span {
  kind: 'online' | 'silent' | 'offline' | 'loggedOut';
  from: number;
  ack: number;
  bound: boolean;
  reason?: string;
  deadline?: number;
}

export interface PendingSend {
  clientMsgId: string;
  text: string; // the frame without ref
  to: { user: string } | { group: string };
  firstSentAt: number; // performance.now()
  sentAt: number; // performance.now() of the latest attempt
  attempts: number;
  conn: Conn | undefined;
  resend: boolean;
  /** performance.now() before which it is not resent (a refusal's retryAfterMs). */
  notBefore: number;
}

/** Seqs received, as sorted disjoint ranges (delivery is in increasing seq, so this stays tiny). */
export class SeqSet {
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];

  add(seq: number): void {
    const last = this.#ends.length - 1;
    if (last >= 0 && seq === this.#ends[last]! + 1) this.#ends[last] = seq;
    else if (last >= 0 && seq <= this.#ends[last]!) this.#insertSlow(seq);
    else {
      this.#starts.push(seq);
      this.#ends.push(seq);
    }
  }

  #insertSlow(seq: number): void {
    if (this.has(seq)) return;
    // Out of order (never expected from the server); keep it correct, not fast.
    const all = this.toArray();
    all.push(seq);
    all.sort((a, b) => a - b);
    this.#starts.length = 0;
    this.#ends.length = 0;
    for (const s of all) this.add(s);
  }

  has(seq: number): boolean {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (seq < this.#starts[mid]!) hi = mid - 1;
      else if (seq > this.#ends[mid]!) lo = mid + 1;
      else return true;
    }
    return false;
  }

  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#starts.length; i++) for (let s = this.#starts[i]!; s <= this.#ends[i]!; s++) out.push(s);
    return out;
  }

  get ranges(): number {
    return this.#starts.length;
  }
}

let nextConnId = 1;

export class Conn {
  readonly id = nextConnId++;
  readonly ws: WebSocket;
  /** The node it went to. */
  readonly url: string;
  readonly openedAt = Date.now();
  lastSentAt = Date.now();
  loginSentAt = 0;
  syncSentAt = 0;
  abandoned = false;
  closed = false;
  /** Its node was SIGKILLed under it (--kill-node-at): the close that follows is the kill's. */
  killed = false;

  constructor(url: string) {
    this.url = url;
    this.ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 15_000 });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }
}

const RETRYABLE = new Set(['internal', 'server_shutting_down', 'rate_limited', 'too_many_connections', 'overloaded']);

export class Device {
  readonly id: string;
  readonly user: User;
  readonly platform: Platform;
  /** The push channel the device registers (the best one it has), or none. */
  readonly provider: LoadVendor | undefined;
  /** A second registration of the same device: FCM behind an Android phone maker's channel (the fallback). */
  readonly fallback: 'fcm' | undefined;
  readonly world: DeviceHost;

  state: DeviceState = 'offline';
  conn: Conn | undefined;
  /** Newest seq received (processed); `sync {after: cursor}` resumes from here. */
  cursor = 0;
  lastAcked = 0;
  lastAckAt = 0;
  readonly received = new SeqSet();
  readonly spans: Span[] = [];
  readonly pending = new Map<string, PendingSend>();
  /**
   * Push tokens this device registered, oldest first (rotated after some logouts), as the fakes
   * report them (a Web Push subscription by its id at the fake).
   */
  readonly tokens: string[] = [];
  /** Web Push: the browser subscription this device registers (a new one after a rotation, while the pool lasts). */
  subscription: { endpoint: string; keys: Record<string, string> } | undefined;
  tokenGen = 0;
  registered = false;
  loggedOut = false;
  /** The server answered the latest logout (`logged_out`). */
  logoutConfirmed = false;
  needsRegister: boolean;
  liveSince = 0;
  comebackAt: number | undefined;
  nextSendAt = Number.POSITIVE_INFINITY;
  nextCallAt = Number.POSITIVE_INFINITY;
  sendCounter = 0;
  refCounter = 0;
  kicked = false;
  finalSynced = false;
  /** The newest receipts, for diagnosing a problem device: [seq, server commit time, received at, how]. */
  readonly recent: Array<[number, number, number, string]> = [];
  /** Sync refs in flight; a sync_done for a stale ref is ignored. */
  syncRef = '';
  /** The `after` of the sync in progress (a resync on a live socket may repeat events in flight). */
  syncAfter = 0;
  logins = 0;

  constructor(world: DeviceHost, user: User, id: string, platform: Platform, provider: LoadVendor | undefined, fallback?: 'fcm') {
    this.world = world;
    this.user = user;
    this.id = id;
    this.platform = platform;
    this.provider = provider;
    this.fallback = fallback;
    this.needsRegister = provider !== undefined;
    if (provider === 'webpush') this.subscription = world.takeSubscription();
  }

  /** The registrations this device makes after each login, best first. */
  get registrations(): LoadVendor[] {
    return this.provider === undefined ? [] : this.fallback ? [this.provider, this.fallback] : [this.provider];
  }

  get connected(): boolean {
    return this.conn !== undefined && !this.conn.closed;
  }

  /** The token as the device sends it in push_register. */
  token(provider: LoadVendor = this.provider!): string | Record<string, unknown> {
    if (provider === 'webpush') return this.subscription!;
    const salt = provider === 'apns' || provider === 'fcm' ? '' : `\u0000${provider}`;
    const digest = createHash('sha256').update(`${this.id}\u0000${this.tokenGen}${salt}`).digest();
    switch (provider) {
      case 'apns': return digest.toString('hex');
      case 'fcm': return `f${digest.toString('base64url').slice(0, 21)}:APA91b${digest.toString('hex').slice(0, 40)}`;
      case 'huawei': return `IQAAAACy${digest.toString('base64url')}`;
      case 'honor': return `HN${digest.toString('base64url')}`;
      case 'xiaomi': return `mi${digest.toString('base64url')}`;
      case 'oppo': return `CN_${digest.toString('hex').slice(0, 32)}`;
      case 'vivo': return `v2-${digest.toString('base64url')}`;
    }
  }

  /** The token as the fakes report it (a Web Push subscription: the last segment of its endpoint). */
  tokenKey(provider: LoadVendor = this.provider!): string {
    const token = this.token(provider);
    return typeof token === 'string' ? token : String(token.endpoint).split('/').pop()!;
  }

  #send(text: string): void {
    const conn = this.conn;
    if (!conn || !conn.open) return;
    conn.ws.send(text);
    conn.lastSentAt = Date.now();
  }

  #frame(frame: Record<string, unknown>): void {
    this.#send(JSON.stringify(frame));
  }

  connect(): void {
    if (this.state !== 'offline' || this.kicked) return;
    this.state = 'connecting';
    this.comebackAt = undefined;
    this.finalSynced = false;
    const conn = new Conn(this.world.target.pick());
    this.conn = conn;
    this.world.connecting += 1;
    conn.ws.on('open', () => {
      if (this.conn !== conn) return;
      conn.loginSentAt = Date.now();
      this.world.latConnect.add(conn.loginSentAt - conn.openedAt);
      this.spans.push({ kind: 'online', from: conn.loginSentAt, ack: this.lastAcked, bound: this.registered });
      this.loggedOut = false; // a login re-activates this device's registrations (DEV-4)
      this.#frame({ type: 'login', ref: 'L', token: this.user.token, deviceId: this.id, platform: this.platform });
    });
    conn.ws.on('message', (data: Buffer) => this.#onMessage(conn, data));
    conn.ws.on('close', (code: number) => this.#onClose(conn, code));
    conn.ws.on('error', () => undefined);
  }

  #onMessage(conn: Conn, data: Buffer): void {
    if (conn !== this.conn || conn.abandoned || this.state === 'silent') return; // a silent device hears nothing
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(data.toString()) as Record<string, unknown>;
    } catch {
      this.world.error('bad_server_json');
      return;
    }
    const world = this.world;
    switch (frame.type) {
      case 'events':
        if (this.state === 'syncing' || this.state === 'live' || this.state === 'closing' || this.state === 'loggingOut') {
          this.#onEvents(frame.events as Record<string, unknown>[], this.state === 'live');
        }
        return;
      case 'sync_page':
        if (frame.ref === this.syncRef) this.#onEvents(frame.events as Record<string, unknown>[], false, this.syncAfter);
        return;
      case 'sync_done':
        if (frame.ref !== this.syncRef) return;
        if (frame.ref === 'F') {
          this.finalSynced = true;
        } else if (this.state === 'syncing') {
          world.latSync.add(Date.now() - conn.syncSentAt);
          this.state = 'live';
          this.liveSince = Date.now();
          world.onLive(this);
          for (const p of this.pending.values()) p.resend = true;
          this.resendPending(performance.now());
        }
        return;
      case 'send_ack': {
        const cmid = String(frame.clientMsgId);
        const pending = this.pending.get(cmid);
        this.pending.delete(cmid);
        world.onSendAck(this, frame, pending);
        return;
      }
      case 'login_ok':
        if (this.state !== 'connecting') return;
        this.logins += 1;
        world.latLogin.add(Date.now() - conn.loginSentAt);
        conn.syncSentAt = Date.now();
        world.onLoginOk(this, frame);
        if (this.needsRegister) {
          this.registrations.forEach((provider, i) => this.#frame({
            type: 'push_register', ref: `R${i}`, provider, token: this.token(provider), credential: world.credentialFor(provider),
            ...(provider === 'apns' ? { environment: 'development' } : {}),
          }));
        }
        this.state = 'syncing';
        this.syncRef = `Y${++this.refCounter}`;
        {
          let after = this.cursor;
          if (after > 0 && world.faults.dupSync > 0 && world.faultRng.chance(world.faults.dupSync)) {
            after -= 1; // self-test: resync one event too early
            world.injected.dupSync += 1;
          }
          // The cursor, not `after`: the self-test's early resync must still count as a duplicate.
          this.syncAfter = this.cursor;
          this.#frame({ type: 'sync', ref: this.syncRef, after });
        }
        return;
      case 'push_registered': {
        const token = this.tokenKey(frame.provider as LoadVendor);
        if (!this.tokens.includes(token)) this.tokens.push(token);
        world.tokenToDevice.set(token, this);
        this.registered = true;
        this.needsRegister = false;
        world.stats.registrations += 1;
        return;
      }
      case 'call_created':
        world.onCallCreated(this, frame);
        return;
      case 'group_created':
        world.onGroupCreatedReply(this, frame);
        return;
      case 'ok':
        if (frame.for === 'group_join' || frame.for === 'group_leave') world.onMembershipOk(this, frame);
        return;
      case 'error':
        this.#onError(frame);
        return;
      case 'kicked':
        this.kicked = true;
        world.error('kicked');
        return;
      case 'reconnect':
        world.error('server_reconnect');
        return;
      case 'logged_out':
        this.logoutConfirmed = true;
        return;
      case 'pong':
        if (typeof frame.t === 'number') world.latPing.add(performance.now() - frame.t);
        return;
      default:
        return; // logged_out, settings, unread_counts, …
    }
  }

  #onError(frame: Record<string, unknown>): void {
    const ref = typeof frame.ref === 'string' ? frame.ref : '';
    const code = String(frame.code);
    const world = this.world;
    if (ref.startsWith('M')) {
      const pending = this.pending.get(ref.slice(1));
      if (pending && RETRYABLE.has(code)) {
        pending.resend = true;
        if (typeof frame.retryAfterMs === 'number') pending.notBefore = performance.now() + frame.retryAfterMs;
        world.error(`send:${code}`);
      } else if (pending) {
        this.pending.delete(pending.clientMsgId);
        world.onSendRejected(this, pending, code);
      }
      return;
    }
    if (ref === 'L') {
      world.error(`login:${code}`);
      this.conn?.ws.terminate();
      return;
    }
    if (ref.startsWith('Y') && this.state === 'syncing') {
      world.error(`sync:${code}`);
      this.conn?.ws.terminate();
      return;
    }
    const what = ref.charAt(0);
    const label = what === 'A' || what === 'E' ? 'call_answer' : what === 'C' ? 'call_invite' : what === 'G' ? 'group' : what === 'D' ? 'read'
      : what === 'R' ? 'push_register' : what === 'F' ? 'final_sync' : 'other';
    world.onRequestError(this, label, code, ref);
  }

  /**
   * `syncAfter`: the events are a sync page answering `sync {after: syncAfter}`. A resync asked
   * for on a live socket (the final one) repeats what was still on its way then: an event
   * between that `after` and the cursor is that overlap, asked for, not a server duplicate.
   */
  #onEvents(events: Record<string, unknown>[], live: boolean, syncAfter?: number): void {
    const now = Date.now();
    for (const ev of events) {
      const seq = ev.seq as number;
      if (this.recent.length >= 24) this.recent.shift();
      this.recent.push([seq, ev.at as number, now, `${live ? 'live' : this.state === 'live' ? 'catchup' : 'sync'}:${this.conn?.id ?? 0}:${String(ev.kind)}`]);
      if (seq <= this.cursor) {
        if (syncAfter !== undefined && seq > syncAfter) this.world.stats.syncOverlaps += 1;
        else this.world.onDuplicate(this, ev);
        continue;
      }
      this.cursor = seq;
      if (this.world.faults.dropEvent > 0 && ev.kind === 'message' && this.world.faultRng.chance(this.world.faults.dropEvent)) {
        this.world.injected.dropEvent += 1; // self-test: "processed" without keeping it
        continue;
      }
      this.received.add(seq);
      this.world.onEvent(this, ev, live);
    }
  }

  #onClose(conn: Conn, code: number): void {
    conn.closed = true;
    const world = this.world;
    if (conn.abandoned || conn !== this.conn) {
      world.onAbandonedClose(conn, code);
      return;
    }
    const now = Date.now();
    const was = this.state;
    this.conn = undefined;
    this.state = 'offline';
    if (conn.killed) {
      world.onKilledClose(this, was);
      this.#afterKill(was, now);
      return;
    }
    world.onDisconnected(this, was, code);
    switch (was) {
      case 'silent':
        // The server cut the half-open connection: the heartbeat deadline passed (1006), so it
        // now sees the device offline and replays its un-acked messages as pushes.
        this.spans.push({ kind: 'offline', from: now, ack: this.lastAcked, bound: this.registered, reason: code === 1006 ? 'timeout' : `dropped:${code}`, deadline: this.spans[this.spans.length - 1]?.deadline });
        return;
      case 'closing':
      case 'loggingOut':
        return; // span recorded when the close/logout was sent; comebackAt already set
      default:
        // Not asked for: the server (or the network) closed a working connection.
        this.spans.push({ kind: 'offline', from: now, ack: this.lastAcked, bound: this.registered, reason: `dropped:${code}` });
        if (code === 4001) this.kicked = true;
        this.comebackAt = now + 500 + Math.floor(world.rng.next() * 1500);
        return;
    }
  }

  /**
   * The node this device's socket was on was SIGKILLed. From now on the device is offline; the
   * cluster still lists it online until the dead node's presence entries expire, then pushes
   * what it had not acked (unless it is back by then).
   */
  #afterKill(was: DeviceState, now: number): void {
    const offline = (reason: string) => this.spans.push({ kind: 'offline', from: now, ack: this.lastAcked, bound: this.registered, reason });
    switch (was) {
      case 'silent':
        // Its comeback stays as planned; no node will time it out, its entry expires instead.
        offline('node_killed');
        return;
      case 'closing':
        return; // offline since it sent the close; its comeback is planned
      case 'loggingOut':
        // Unanswered, the logout may have died with the node: its registrations may still be
        // active, and the expiry may push it. Offline (bound), not logged out, is what it knows.
        if (!this.logoutConfirmed) offline('node_killed_logout_unconfirmed');
        return;
      default:
        offline('node_killed');
        this.comebackAt = now + 500 + Math.floor(this.world.rng.next() * 1500);
    }
  }

  /** Ack the newest seq received when due (batched: every 1.5 s or 50 events), or now when forced. */
  flushAck(force = false): void {
    if (this.cursor <= this.lastAcked) return;
    if (this.state !== 'live' && this.state !== 'syncing' && !force) return;
    const now = Date.now();
    if (!force && now - this.lastAckAt < 1500 && this.cursor - this.lastAcked < 50) return;
    this.lastAcked = this.cursor;
    this.lastAckAt = now;
    this.#send(`{"type":"ack","seq":${this.cursor}}`);
  }

  /** Heartbeat: a ping when nothing else was sent for most of the interval. */
  heartbeat(now: number, intervalMs: number): void {
    const conn = this.conn;
    if (conn && (this.state === 'live' || this.state === 'syncing') && now - conn.lastSentAt >= intervalMs * 0.75) {
      this.#send(`{"type":"ping","t":${performance.now()}}`);
    }
  }

  sendMessage(to: { user: string } | { group: string }, text: string): void {
    const clientMsgId = `${this.id}.${++this.sendCounter}`;
    const frame = JSON.stringify({ type: 'send', clientMsgId, to, content: { type: 'text', text } });
    const now = performance.now();
    const pending: PendingSend = { clientMsgId, text: frame, to, firstSentAt: now, sentAt: now, attempts: 1, conn: this.conn, resend: false, notBefore: 0 };
    this.pending.set(clientMsgId, pending);
    this.world.onSend(this, pending);
    this.#send(`{"ref":${JSON.stringify(`M${clientMsgId}`)},${frame.slice(1)}`);
  }

  /** Resend sends that were never acked on this connection (same clientMsgId: idempotent). */
  resendPending(now: number): void {
    if (this.state !== 'live') return;
    for (const p of this.pending.values()) {
      if (now < p.notBefore || (!p.resend && !(p.conn === this.conn && now - p.sentAt > 15_000))) continue;
      p.resend = false;
      p.attempts += 1;
      p.sentAt = now;
      p.conn = this.conn;
      this.world.stats.resends += 1;
      this.#send(`{"ref":${JSON.stringify(`M${p.clientMsgId}`)},${p.text.slice(1)}`);
    }
  }

  request(frame: Record<string, unknown>): void {
    this.#frame(frame);
  }

  nextRef(prefix: string): string {
    return `${prefix}${++this.refCounter}`;
  }

  /** Stop sending anything, keep the socket open (half-open): the server must time it out. */
  goSilent(now: number, timeoutMs: number, comebackAt: number): void {
    if (this.state !== 'live' || !this.conn) return;
    this.flushAck(true);
    this.state = 'silent';
    this.spans.push({ kind: 'silent', from: now, ack: this.lastAcked, bound: this.registered, deadline: this.conn.lastSentAt + timeoutMs });
    this.comebackAt = comebackAt;
  }

  closeCleanly(now: number, comebackAt: number): void {
    if (this.state !== 'live' || !this.conn) return;
    this.flushAck(true);
    this.state = 'closing';
    this.spans.push({ kind: 'offline', from: now, ack: this.lastAcked, bound: this.registered, reason: 'closed' });
    this.comebackAt = comebackAt;
    this.conn.ws.close(1000, 'bye');
  }

  logout(now: number, comebackAt: number, rotateToken: boolean): void {
    if (this.state !== 'live' || !this.conn) return;
    this.flushAck(true);
    this.state = 'loggingOut';
    this.loggedOut = true;
    this.logoutConfirmed = false;
    this.spans.push({ kind: 'loggedOut', from: now, ack: this.lastAcked, bound: false });
    this.comebackAt = comebackAt;
    // Apps register again after every login; a refreshed token sometimes comes with it.
    if (this.provider) {
      this.needsRegister = true;
      if (rotateToken && this.registered) {
        this.tokenGen += 1;
        if (this.provider === 'webpush') this.subscription = this.world.takeSubscription() ?? this.subscription;
        this.world.stats.tokenRotations += 1;
      }
    }
    this.#frame({ type: 'logout', ref: 'O' });
  }

  /** Come back from silence or an offline spell: a new connection, login, sync from the cursor. */
  comeback(): void {
    if (this.state === 'silent' && this.conn) {
      // Half-open: the old socket is dead to the device; the server retires it on this login (4006)
      // or has already timed it out. Leave it alone, like a phone that lost its network would.
      this.conn.abandoned = true;
      this.world.abandoned.add(this.conn);
      this.conn = undefined;
      this.state = 'offline';
    }
    if (this.state === 'offline') this.connect();
  }

  /** Give up a connection attempt that is stuck (no login_ok / sync_done in time). */
  abortConnect(): void {
    const conn = this.conn;
    if (!conn) return;
    conn.abandoned = true;
    conn.ws.terminate();
    this.conn = undefined;
    this.state = 'offline';
    this.spans.push({ kind: 'offline', from: Date.now(), ack: this.lastAcked, bound: this.registered, reason: 'connect_timeout' });
  }
}
