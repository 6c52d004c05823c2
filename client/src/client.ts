import type { Content, DeliveredEvent, Platform, PushOptions, Recipient, ServerFrame, ServerFrameOf } from './wire.ts';
import { AckBatcher, type AckOptions } from './acks.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import type { Connection, RateLimit } from './connection.ts';
import { TidingsError } from './errors.ts';
import { Emitter, type ConnectionState, type StateChange, type TidingsEvents } from './events.ts';
import { newClientMsgId } from './ids.ts';
import { Inbox } from './inbox.ts';
import { Lifecycle, type TokenProvider } from './lifecycle.ts';
import { Outbox, type SendResult } from './outbox.ts';
import { Requests, type ReplyOf, type RequestFields, type RequestType } from './requests.ts';
import { resolveWebSocket, type WebSocketConstructor } from './socket.ts';
import { MemoryStore, type OutboxEntry, type TidingsStore } from './store.ts';

export interface TidingsClientOptions {
  /** ws:// or wss:// URL of the server, or a function asked on every (re)connect. */
  url: string | (() => string);
  /** A login token, or a provider called on every (re)connect (and once more if the server refuses its token). */
  token: string | TokenProvider;
  /** Stable per app installation, unique across users (e.g. a UUID kept in the store). */
  deviceId: string;
  /** Default `web`. */
  platform?: Platform;
  /** Default: the global WebSocket (browsers, Node ≥ 22). In Node 20, pass `ws`. */
  WebSocket?: WebSocketConstructor;
  /** Cursor and outbox persistence; default MemoryStore. */
  store?: TidingsStore;
  /** Backoff between attempts (full jitter), or false to stay idle after a drop. */
  reconnect?: boolean | BackoffOptions;
  /** No frame from the server for this long → reconnect. Default: `heartbeatTimeoutMs` of login_ok. */
  heartbeatTimeoutMs?: number;
  /** From opening the socket to login_ok. Default 10 s. */
  connectTimeoutMs?: number;
  /** Default timeout of requests (not of sends, which wait in the outbox). Default 10 s. */
  requestTimeoutMs?: number;
  /** A send written this long ago without a send_ack is written again (same clientMsgId). Default 15 s. */
  sendAckTimeoutMs?: number;
  /** Requests made while not logged in: wait for the connection (default) or fail at once (`offline`). */
  offline?: 'wait' | 'fail';
  acks?: AckOptions;
  /** Client-side pacing below the server's per-connection limit. Default 40/s, burst 80; false: none. */
  rateLimit?: RateLimit | false;
  /** Page size asked for in sync (capped by the server). */
  syncLimit?: number;
}

export interface SendOptions {
  push?: PushOptions;
  /** Default: a fresh UUID. Give your own to resend a message you composed earlier. */
  clientMsgId?: string;
}

/**
 * A tidings client: one reconnecting session, typed events, an outbox, batched acks.
 *
 * ```ts
 * const client = new TidingsClient({ url: 'ws://127.0.0.1:8080', token: () => fetchToken(), deviceId });
 * client.on('message', (m) => render(m));
 * await client.connect();
 * await client.send({ user: 'bob' }, { type: 'text', text: 'hi' });
 * ```
 */
export class TidingsClient extends Emitter<TidingsEvents> {
  readonly deviceId: string;
  readonly #options: TidingsClientOptions;
  readonly #store: TidingsStore;
  readonly #inbox = new Inbox();
  readonly #requests = new Requests();
  readonly #outbox: Outbox;
  readonly #acks: AckBatcher;
  readonly #lifecycle: Lifecycle;
  readonly #loaded: Promise<void>;
  #cursorKnown = false;
  #liveWaiters: Array<{ resolve: () => void; reject: (error: TidingsError) => void }> = [];

  constructor(options: TidingsClientOptions) {
    super();
    this.#options = { ...options };
    this.deviceId = options.deviceId;
    this.#store = options.store ?? new MemoryStore();
    this.#outbox = new Outbox(this.#store, (status) => this.emit('outbox', status), () => this.#pump());
    this.#acks = new AckBatcher(options.acks ?? {}, () => this.#inbox.cursor, (seq) => this.#writeAck(seq));
    const reconnect = options.reconnect ?? true;
    const rate = options.rateLimit === false ? undefined : options.rateLimit ?? { perSecond: 40, burst: 80 };
    this.#lifecycle = new Lifecycle({
      url: options.url, WebSocket: resolveWebSocket(options.WebSocket), token: options.token,
      deviceId: options.deviceId, platform: options.platform ?? 'web',
      backoff: new Backoff(typeof reconnect === 'object' ? reconnect : {}), reconnect: reconnect !== false,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000, heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      rate, syncLimit: options.syncLimit,
    }, {
      state: (change) => this.#onState(change),
      authenticated: (_connection, loginOk) => this.#onAuthenticated(loginOk),
      ready: (connection) => this.#onReady(connection),
      events: (events) => this.#onEvents(events),
      synced: (headSeq) => {
        this.emit('synced', { headSeq });
        void this.#acks.flush();
      },
      frame: (frame) => this.#onFrame(frame),
      error: (error) => this.emit('error', error),
      disconnected: () => this.#onDisconnected(),
      tick: (now) => {
        if (this.#outbox.expire(now, this.#options.sendAckTimeoutMs ?? 15_000) || (this.#outbox.nextRetryAt() ?? Infinity) <= now) this.#pump();
      },
    });
    this.#loaded = Promise.resolve(this.#store.load()).then((stored) => {
      if (stored.cursor !== undefined) {
        this.#inbox.cursor = stored.cursor;
        this.#acks.acked = stored.cursor;
        this.#cursorKnown = true;
      }
      this.#outbox.restore(stored.outbox);
    });
  }

  get state(): ConnectionState {
    return this.#lifecycle.state;
  }
  /** The logged-in user (from the last login_ok). */
  get userId(): string | undefined {
    return this.#lifecycle.loginOk?.userId;
  }
  /** Newest inbox seq processed. */
  get cursor(): number {
    return this.#inbox.cursor;
  }
  /** Messages not acknowledged by the server yet, oldest first. */
  get pendingSends(): OutboxEntry[] {
    return this.#outbox.entries();
  }

  /** Connect (or reconnect now, when waiting in backoff); resolves once live. */
  async connect(): Promise<void> {
    await this.#loaded;
    if (this.state === 'live') return;
    const live = new Promise<void>((resolve, reject) => this.#liveWaiters.push({ resolve, reject }));
    this.#lifecycle.start();
    return live;
  }

  /** Go offline without logging out (acks flushed, socket closed, nothing lost): connect() resumes. */
  async disconnect(): Promise<void> {
    await this.#acks.flush();
    this.#lifecycle.stop('idle', 'disconnect');
  }

  /** Stop for good. Unacked sends stay in the store for a later client. */
  async close(): Promise<void> {
    await this.#acks.flush();
    this.#lifecycle.stop('closed', 'close');
  }

  /** Send a message; resolves with its send_ack once the server stored it (LOG-1), even across reconnects. */
  async send(to: Recipient, content: Content, options: SendOptions = {}): Promise<SendResult> {
    if (this.state === 'closed') throw this.#closedError('send');
    await this.#loaded;
    const entry: OutboxEntry = {
      clientMsgId: options.clientMsgId ?? newClientMsgId(), to, content, createdAt: Date.now(),
      ...(options.push ? { push: options.push } : {}),
    };
    return this.#outbox.add(entry);
  }

  sendText(to: Recipient, text: string, options?: SendOptions): Promise<SendResult> {
    return this.send(to, { type: 'text', text }, options);
  }

  /** Give up on an unacknowledged message (its send() rejects with `closed`). It may have been stored already. */
  cancelSend(clientMsgId: string): boolean {
    return this.#outbox.cancel(clientMsgId, new TidingsError('closed', 'The send was cancelled by the app.', { request: 'send' }));
  }

  /** Any request frame; resolves with its typed reply, rejects with a TidingsError. */
  request<T extends RequestType>(type: T, fields: RequestFields<T>, options: { timeoutMs?: number } = {}): Promise<ReplyOf<T>> {
    if (this.state === 'closed') return Promise.reject(this.#closedError(type));
    const connection = this.#lifecycle.connection;
    if (!connection && this.#options.offline === 'fail') {
      return Promise.reject(new TidingsError('offline', `Not connected (state ${this.state}); ${type} was not sent.`, { request: type }));
    }
    const { reply } = this.#requests.add({ ...fields, type } as never, options.timeoutMs ?? this.#options.requestTimeoutMs ?? 10_000);
    if (connection) this.#writeRequests(connection);
    return reply as Promise<ReplyOf<T>>;
  }

  createGroup(fields: RequestFields<'group_create'>) { return this.request('group_create', fields); }
  joinGroup(groupId: string) { return this.request('group_join', { groupId }); }
  leaveGroup(groupId: string) { return this.request('group_leave', { groupId }); }
  async groupMembers(groupId: string): Promise<string[]> { return (await this.request('group_members', { groupId })).members; }
  /** Members with roles, join policy and (for the owner and admins) pending join requests. */
  groupInfo(groupId: string) { return this.request('group_members', { groupId }); }
  inviteToGroup(groupId: string, users: string[]) { return this.request('group_invite', { groupId, users }); }
  removeFromGroup(groupId: string, user: string) { return this.request('group_remove', { groupId, user }); }
  approveJoin(groupId: string, user: string) { return this.request('group_approve', { groupId, user }); }
  rejectJoin(groupId: string, user: string) { return this.request('group_reject', { groupId, user }); }
  transferGroup(groupId: string, user: string) { return this.request('group_transfer', { groupId, user }); }
  setGroupRole(groupId: string, user: string, role: 'admin' | 'member') { return this.request('group_set_role', { groupId, user, role }); }
  updateGroup(groupId: string, fields: { name?: string; joinPolicy?: 'invite' | 'open' | 'approval' }) { return this.request('group_update', { groupId, ...fields }); }
  dissolveGroup(groupId: string) { return this.request('group_dissolve', { groupId }); }
  /** Read receipt: `upTo` is an eventId (SYNC-4). */
  markRead(conversation: string, upTo: number) { return this.request('read', { conversation, upTo }); }
  unread() { return this.request('unread', {}); }
  inviteCall(fields: RequestFields<'call_invite'>) { return this.request('call_invite', fields); }
  acceptCall(callId: string) { return this.request('call_accept', { callId }); }
  rejectCall(callId: string) { return this.request('call_reject', { callId }); }
  cancelCall(callId: string) { return this.request('call_cancel', { callId }); }
  endCall(callId: string) { return this.request('call_end', { callId }); }
  getSettings() { return this.request('settings_get', {}); }
  updateSettings(fields: RequestFields<'settings_update'>) { return this.request('settings_update', fields); }
  mute(to: Recipient, muted = true) { return this.request('mute', { to, muted }); }
  block(user: string, blocked = true) { return this.request('block', { user, blocked }); }
  registerPush(fields: RequestFields<'push_register'>) { return this.request('push_register', fields); }
  unregisterPush(provider?: RequestFields<'push_unregister'>['provider']) { return this.request('push_unregister', provider ? { provider } : {}); }
  /** Round trip to the server. */
  ping() { return this.request('ping', { t: Date.now() }); }
  /** End this device's login (its pushes stop, DEV-4); the client is closed afterwards. */
  async logout(): Promise<void> {
    await this.#acks.flush();
    await this.request('logout', {});
  }

  #onAuthenticated(loginOk: ServerFrameOf<'login_ok'>): number | undefined {
    this.#acks.acked = loginOk.ackedSeq; // what the server holds for this device; ready() acks anything newer
    if (this.#cursorKnown && this.#inbox.cursor > loginOk.headSeq) {
      this.emit('error', new TidingsError('bad_cursor', `The stored cursor ${this.#inbox.cursor} is ahead of this server's inbox (${loginOk.headSeq}); resyncing from its ack cursor.`, { request: 'sync' }));
      this.#cursorKnown = false;
    }
    if (!this.#cursorKnown) {
      this.#inbox.cursor = loginOk.ackedSeq;
      this.#cursorKnown = true;
    }
    return this.#inbox.cursor;
  }

  #onReady(connection: Connection): void {
    if (this.#inbox.cursor > this.#acks.acked) void this.#acks.flush();
    this.#outbox.resetDelays();
    this.#outbox.pump(connection, Date.now());
    this.#writeRequests(connection);
  }

  #onEvents(events: DeliveredEvent[]): void {
    for (const event of events) {
      if (!this.#inbox.accept(event)) continue;
      this.emit('event', event);
      switch (event.kind) {
        case 'message': this.emit('message', event); break;
        case 'read': this.emit('read', event); break;
        case 'group_created': case 'member_joined': case 'member_left': case 'member_role': case 'group_updated':
        case 'group_dissolved': case 'join_requested': case 'join_rejected': this.emit('group', event); break;
        case 'call_invited': this.emit('call_invited', event); break;
        case 'call_state': this.emit('call_state', event); break;
        default: break; // kinds this client does not know yet still reach `event`
      }
      this.#acks.note();
    }
  }

  #onFrame(frame: ServerFrame): void {
    if (frame.type === 'send_ack') return this.#outbox.onAck(frame);
    if (frame.type === 'kicked') return this.emit('kicked', frame);
    if (frame.type === 'reconnect') return this.emit('reconnect', frame);
    if (frame.type === 'error') {
      const error = TidingsError.fromFrame(frame);
      if (frame.ref !== undefined && this.#outbox.onError(frame.ref, error, Date.now())) return;
      if (!this.#requests.settle(frame)) this.emit('error', error);
      return;
    }
    this.#requests.settle(frame);
  }

  #onDisconnected(): void {
    this.#acks.cancel();
    this.#outbox.disconnected();
    this.#requests.failWritten((type) => new TidingsError('connection_lost', `The connection dropped before ${type} was answered; it may or may not have taken effect.`, { request: type }));
  }

  #onState(change: StateChange): void {
    this.emit('state', change);
    if (change.state === 'live') {
      for (const waiter of this.#liveWaiters.splice(0)) waiter.resolve();
    } else if (change.state === 'closed' || change.state === 'idle') {
      const error = change.state === 'closed' ? this.#closedError('connect', change.reason)
        : new TidingsError('offline', `The client went idle (${change.reason}) before it was live.`, { request: 'connect' });
      for (const waiter of this.#liveWaiters.splice(0)) waiter.reject(error);
      if (change.state === 'closed') {
        this.#acks.cancel();
        this.#outbox.rejectWaiters(this.#closedError('send', change.reason));
        this.#requests.failAll((type) => this.#closedError(type, change.reason));
      }
    }
  }

  async #writeAck(seq: number): Promise<boolean> {
    await this.#store.saveCursor(seq);
    const connection = this.#lifecycle.connection;
    if (!connection) return false;
    connection.write({ type: 'ack', seq });
    return true;
  }

  #writeRequests(connection: Connection): void {
    for (const frame of this.#requests.takeUnwritten(connection.id)) connection.write(frame);
  }

  #pump(): void {
    const connection = this.#lifecycle.connection;
    if (connection) this.#outbox.pump(connection, Date.now());
  }

  #closedError(request: string, reason: string = this.#lifecycle.state): TidingsError {
    return new TidingsError('closed', `The client is closed (${reason}).`, { request });
  }
}
