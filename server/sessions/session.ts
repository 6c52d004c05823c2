import type { Platform, ServerFrame } from '../../protocol/index.ts';
import type { TransportConnection } from '../transports/transport.ts';

export type OfflineReason =
  | 'closed' | 'heartbeat_timeout' | 'logout' | 'kicked' | 'replaced'
  | 'slow_reader' | 'rate_abuse' | 'server_shutdown' | 'error'
  /** The node that held the session stopped refreshing its presence (it died): announced by another node. */
  | 'node_lost';

/** Close codes the server uses; documented in docs/PROTOCOL.md. */
export const CloseCode = {
  normal: 1000,
  policy: 1008,
  serviceRestart: 1012,
  kicked: 4001,
  loggedOut: 4002,
  heartbeatTimeout: 4003,
  slowReader: 4004,
  loginTimeout: 4005,
  replaced: 4006,
} as const;

export interface DeviceIdentity {
  userId: string;
  deviceId: string;
  platform: Platform;
}

/**
 * Where a session stands in its inbox (SYNC-1), owned by the delivery feature: `deliveredSeq` is
 * the newest seq written to this socket, `ackedSeq` the newest the device acknowledged, `mode`
 * whether live events may be written directly. Login only sets the starting point.
 */
export class DeliveryState {
  mode: 'idle' | 'syncing' | 'live' = 'idle';
  deliveredSeq = 0;
  ackedSeq = 0;
  /** Bumped by each sync request so an older sync loop stops when a newer one starts. */
  syncGeneration = 0;

  startAt(ackedSeq: number): void {
    this.ackedSeq = ackedSeq;
    this.deliveredSeq = ackedSeq;
  }
}

/**
 * One connection and what the server knows of it. Each part has one writer: the session
 * registry sets the identity and ends it (`closed`, `offlineReason`); the gateway marks it seen;
 * the delivery feature moves `delivery`.
 */
export class Session {
  readonly connection: TransportConnection;
  readonly connectedAt = Date.now();
  readonly delivery = new DeliveryState();
  #lastSeenAt = Date.now();
  #identity: DeviceIdentity | undefined;
  #sessionId = '';
  #closed = false;
  #offlineReason: OfflineReason | undefined;
  readonly #maxBufferedBytes: number;
  readonly #onOverflow: (session: Session) => void;

  constructor(connection: TransportConnection, options: { maxBufferedBytes: number; onOverflow: (session: Session) => void }) {
    this.connection = connection;
    this.#maxBufferedBytes = options.maxBufferedBytes;
    this.#onOverflow = options.onOverflow;
  }

  get identity(): DeviceIdentity | undefined {
    return this.#identity;
  }

  get sessionId(): string {
    return this.#sessionId;
  }

  get userId(): string {
    return this.#identity?.userId ?? '';
  }

  get closed(): boolean {
    return this.#closed;
  }

  get offlineReason(): OfflineReason | undefined {
    return this.#offlineReason;
  }

  get lastSeenAt(): number {
    return this.#lastSeenAt;
  }

  /** A frame arrived (ON-1: any frame counts as a heartbeat). */
  markSeen(now: number): void {
    this.#lastSeenAt = now;
  }

  /** Called once, by the session registry, when login succeeded. */
  authenticated(identity: DeviceIdentity, sessionId: string): void {
    this.#identity = identity;
    this.#sessionId = sessionId;
  }

  /** Called once, by the session registry; false if it had already ended. */
  ended(reason: OfflineReason): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#offlineReason = reason;
    return true;
  }

  send(frame: ServerFrame): void {
    this.sendText(JSON.stringify(frame));
  }

  /** Write pre-serialised JSON; a reader that lets the buffer pass the bound is dropped (LIM-1). */
  sendText(text: string): void {
    if (this.#closed) return;
    this.connection.send(text);
    if (this.connection.bufferedBytes() > this.#maxBufferedBytes) this.#onOverflow(this);
  }
}
