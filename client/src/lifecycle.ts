import type { DeliveredEvent, Platform, ServerFrame, ServerFrameOf } from './wire.ts';
import type { Backoff } from './backoff.ts';
import { Connection, type RateLimit } from './connection.ts';
import { TidingsError } from './errors.ts';
import type { ConnectionState, StateChange } from './events.ts';
import type { WebSocketConstructor } from './socket.ts';

export interface TokenContext {
  /** `connect` on every (re)connect; the error code when the server refused the previous token. */
  reason: 'connect' | 'token_expired' | 'token_invalid';
}
/** Called on every (re)connect, and once more when the server refuses the token it gave. */
export type TokenProvider = (context: TokenContext) => string | Promise<string>;

export interface LifecycleOptions {
  url: string | (() => string);
  WebSocket: WebSocketConstructor;
  token: string | TokenProvider;
  deviceId: string;
  platform: Platform;
  backoff: Backoff;
  reconnect: boolean;
  connectTimeoutMs: number;
  /** Client-side deadline: no frame for this long drops the connection (default: the server's heartbeatTimeoutMs). */
  heartbeatTimeoutMs: number | undefined;
  rate: RateLimit | undefined;
  syncLimit: number | undefined;
}

export interface LifecycleHooks {
  state(change: StateChange): void;
  /** Logged in; answers the `after` to sync from (undefined: the server's ack cursor). */
  authenticated(connection: Connection, loginOk: ServerFrameOf<'login_ok'>): number | undefined;
  /** The sync is written: flush what waited for a connection. */
  ready(connection: Connection): void;
  events(events: DeliveredEvent[]): void;
  synced(headSeq: number): void;
  /** Replies, errors and frames the lifecycle does not handle itself. */
  frame(frame: ServerFrame): void;
  error(error: TidingsError): void;
  /** A logged-in connection is gone (whatever the reason). */
  disconnected(): void;
  /** Every heartbeat tick of a logged-in connection. */
  tick(now: number): void;
}

/** Close codes after which reconnecting would be wrong (docs/PROTOCOL.md#close-codes). */
const FINAL_CLOSE: Record<number, string> = { 4001: 'kicked', 4002: 'logged_out', 4006: 'replaced' };
const LOGIN_RETRYABLE = new Set(['too_many_connections', 'server_shutting_down', 'internal', 'rate_limited']);

/**
 * The reconnecting session of docs/PROTOCOL.md: connect → login (token provider) → sync → live,
 * heartbeats and a client-side deadline, and after a drop a jittered backoff (or the server's
 * `reconnect` hint) before the next attempt. Nothing after kicked / logged_out / replaced.
 */
export class Lifecycle {
  state: ConnectionState = 'idle';
  loginOk: ServerFrameOf<'login_ok'> | undefined;
  readonly #options: LifecycleOptions;
  readonly #hooks: LifecycleHooks;
  #connection: Connection | undefined;
  #authenticated = false;
  #refs = 0;
  #loginRef = '';
  #syncRef = '';
  #tokenRetried = false;
  #finalReason: string | undefined;
  #reconnectAfterMs: number | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #tickTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: LifecycleOptions, hooks: LifecycleHooks) {
    this.#options = options;
    this.#hooks = hooks;
  }

  /** The logged-in connection, if there is one. */
  get connection(): Connection | undefined {
    return this.#authenticated ? this.#connection : undefined;
  }

  start(): void {
    if (this.state === 'closed') throw new TidingsError('closed', 'This client is closed; create a new one.');
    if (this.state === 'idle' || this.state === 'backoff') this.#connect('connect');
  }

  /** Leave the server: `idle` (connect() again later) or `closed` (final). */
  stop(state: 'idle' | 'closed', reason: string): void {
    if (this.state === 'closed') return;
    this.#clearTimers();
    this.#connection?.end(true);
    this.#endConnection();
    this.#set(state, reason);
  }

  /** Drop the current connection and go through backoff (e.g. the app knows the network changed). */
  drop(reason: string): void {
    if (!this.#connection) return;
    this.#connection.end(false);
    this.#lost(reason);
  }

  #connect(reason: string): void {
    this.#clearTimers();
    this.#finalReason = undefined;
    this.#reconnectAfterMs = undefined;
    this.#tokenRetried = false;
    const url = typeof this.#options.url === 'function' ? this.#options.url() : this.#options.url;
    let connection: Connection;
    try {
      connection = new Connection(this.#options.WebSocket, url, this.#options.rate, {
        open: () => void this.#login(connection, 'connect'),
        frame: (frame) => this.#onFrame(connection, frame),
        closed: (code) => this.#onClosed(connection, code),
      });
    } catch (error) {
      this.#hooks.error(new TidingsError('connection_lost', `Cannot open ${url}: ${String(error)}`));
      this.#set('connecting', reason);
      this.#retry('connect_failed');
      return;
    }
    this.#connection = connection;
    this.#set('connecting', reason);
    this.#connectTimer = setTimeout(() => this.drop('connect_timeout'), this.#options.connectTimeoutMs);
  }

  async #login(connection: Connection, reason: TokenContext['reason']): Promise<void> {
    if (reason === 'connect') this.#set('authenticating', 'open');
    let token: string;
    try {
      const source = this.#options.token;
      token = typeof source === 'string' ? source : await source({ reason });
    } catch (error) {
      if (connection !== this.#connection) return;
      this.#hooks.error(new TidingsError('token_invalid', `The token provider failed: ${String(error)}`, { retryable: true, request: 'login' }));
      this.drop('token_provider_failed');
      return;
    }
    if (connection !== this.#connection || !connection.open) return;
    this.#loginRef = `l${++this.#refs}`;
    connection.write({ type: 'login', ref: this.#loginRef, token, deviceId: this.#options.deviceId, platform: this.#options.platform });
  }

  #onFrame(connection: Connection, frame: ServerFrame): void {
    if (connection !== this.#connection) return;
    switch (frame.type) {
      case 'login_ok':
        if (frame.ref === this.#loginRef) return this.#onLoginOk(connection, frame);
        break;
      case 'sync_page':
        if (frame.ref === this.#syncRef) this.#hooks.events(frame.events);
        return;
      case 'sync_done':
        if (frame.ref !== this.#syncRef) return;
        this.#options.backoff.reset();
        this.#set('live', 'sync_done');
        this.#hooks.synced(frame.headSeq);
        return;
      case 'events':
        if (this.#authenticated) this.#hooks.events(frame.events);
        return;
      case 'kicked':
        this.#finalReason = 'kicked';
        break;
      case 'logged_out':
        this.#finalReason = 'logged_out';
        break;
      case 'reconnect':
        this.#reconnectAfterMs = frame.afterMs;
        break;
      case 'error':
        if (frame.ref !== undefined && frame.ref === this.#loginRef) return this.#onLoginError(connection, frame);
        if (frame.ref !== undefined && frame.ref === this.#syncRef) return this.#onSyncError(connection, frame);
        break;
      default:
        break;
    }
    this.#hooks.frame(frame);
  }

  #onLoginOk(connection: Connection, frame: ServerFrameOf<'login_ok'>): void {
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.loginOk = frame;
    this.#authenticated = true;
    const after = this.#hooks.authenticated(connection, frame);
    this.#sync(connection, after);
    this.#set('syncing', 'login_ok');
    this.#startHeartbeat(connection, frame);
    this.#hooks.ready(connection);
  }

  #sync(connection: Connection, after: number | undefined): void {
    this.#syncRef = `y${++this.#refs}`;
    const limit = this.#options.syncLimit;
    connection.write({ type: 'sync', ref: this.#syncRef, ...(after !== undefined ? { after } : {}), ...(limit ? { limit } : {}) });
  }

  #onLoginError(connection: Connection, frame: ServerFrameOf<'error'>): void {
    const error = TidingsError.fromFrame(frame, 'login');
    const tokenProblem = frame.code === 'token_expired' || frame.code === 'token_invalid';
    if (tokenProblem && typeof this.#options.token === 'function' && !this.#tokenRetried) {
      this.#tokenRetried = true; // ask the provider once more, on the same (still anonymous) connection
      void this.#login(connection, frame.code as 'token_expired' | 'token_invalid');
      return;
    }
    this.#hooks.error(error);
    if (LOGIN_RETRYABLE.has(frame.code)) {
      this.drop(frame.code);
      return;
    }
    this.stop('closed', tokenProblem ? 'auth_failed' : 'login_failed');
  }

  #onSyncError(connection: Connection, frame: ServerFrameOf<'error'>): void {
    this.#hooks.error(TidingsError.fromFrame(frame, 'sync'));
    // bad_cursor: the stored cursor is ahead of this server; start again from its ack cursor.
    if (frame.code === 'bad_cursor') this.#sync(connection, undefined);
    else this.drop(`sync_${frame.code}`);
  }

  #startHeartbeat(connection: Connection, loginOk: ServerFrameOf<'login_ok'>): void {
    const intervalMs = loginOk.heartbeatIntervalMs;
    const deadlineMs = this.#options.heartbeatTimeoutMs ?? loginOk.heartbeatTimeoutMs;
    const tickMs = Math.max(20, Math.min(1000, intervalMs / 4));
    this.#tickTimer = setInterval(() => {
      if (connection !== this.#connection) return;
      const now = Date.now();
      if (now - connection.lastReceivedAt > deadlineMs) {
        this.drop('heartbeat_timeout');
        return;
      }
      // Any frame resets the server's deadline; ping only when nothing else went out lately.
      if (now - connection.lastSentAt >= intervalMs * 0.75 && connection.queued === 0) connection.write({ type: 'ping', t: now });
      this.#hooks.tick(now);
    }, tickMs);
  }

  #onClosed(connection: Connection, code: number): void {
    if (connection !== this.#connection) return;
    const final = this.#finalReason ?? FINAL_CLOSE[code];
    if (final) {
      this.#clearTimers();
      this.#endConnection();
      this.#set('closed', final, code);
      return;
    }
    this.#lost(this.#reconnectAfterMs !== undefined ? 'server_restart' : 'socket_closed', code);
  }

  #lost(reason: string, closeCode?: number): void {
    this.#clearTimers();
    this.#endConnection();
    this.#retry(reason, closeCode);
  }

  #retry(reason: string, closeCode?: number): void {
    if (!this.#options.reconnect) {
      this.#set('idle', reason, closeCode);
      return;
    }
    const backoff = this.#options.backoff;
    const attempt = backoff.attempt;
    const retryInMs = this.#reconnectAfterMs !== undefined ? backoff.afterHint(this.#reconnectAfterMs) : backoff.next();
    this.#set('backoff', reason, closeCode, { retryInMs, attempt });
    this.#retryTimer = setTimeout(() => this.#connect('retry'), retryInMs);
  }

  #endConnection(): void {
    const wasAuthenticated = this.#authenticated;
    this.#connection = undefined;
    this.#authenticated = false;
    this.#loginRef = '';
    this.#syncRef = '';
    if (wasAuthenticated) this.#hooks.disconnected();
  }

  #clearTimers(): void {
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer);
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    if (this.#tickTimer !== undefined) clearInterval(this.#tickTimer);
    this.#connectTimer = this.#retryTimer = this.#tickTimer = undefined;
  }

  #set(state: ConnectionState, reason: string, closeCode?: number, extra: { retryInMs?: number; attempt?: number } = {}): void {
    const previous = this.state;
    this.state = state;
    this.#hooks.state({ state, previous, reason, ...(closeCode !== undefined ? { closeCode } : {}), ...extra });
  }
}
