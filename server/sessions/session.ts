import type { Platform, ServerFrame } from '../../protocol/index.ts';
import type { TransportConnection } from '../transports/transport.ts';

export type OfflineReason =
  | 'closed' | 'heartbeat_timeout' | 'logout' | 'kicked' | 'replaced'
  | 'slow_reader' | 'rate_abuse' | 'server_shutdown' | 'error';

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
 * One connection and what the server knows of it. Delivery state lives here:
 * `deliveredSeq` is the newest inbox seq written to this socket, `ackedSeq` the newest the
 * device acknowledged (SYNC-1). `mode` says whether live events may be written directly.
 */
export class Session {
  readonly connection: TransportConnection;
  readonly connectedAt = Date.now();
  lastSeenAt = Date.now();
  identity: DeviceIdentity | undefined;
  sessionId = '';
  mode: 'anonymous' | 'idle' | 'syncing' | 'live' = 'anonymous';
  deliveredSeq = 0;
  ackedSeq = 0;
  /** Bumped by each sync request so an older sync loop stops when a newer one starts. */
  syncGeneration = 0;
  closed = false;
  offlineReason: OfflineReason | undefined;
  rateTokens: number;
  rateUpdatedAt = Date.now();
  strikes = 0;
  lastStrikeAt = 0;
  readonly #maxBufferedBytes: number;
  readonly #onOverflow: (session: Session) => void;

  constructor(connection: TransportConnection, options: { burst: number; maxBufferedBytes: number; onOverflow: (session: Session) => void }) {
    this.connection = connection;
    this.rateTokens = options.burst;
    this.#maxBufferedBytes = options.maxBufferedBytes;
    this.#onOverflow = options.onOverflow;
  }

  get userId(): string {
    return this.identity?.userId ?? '';
  }

  send(frame: ServerFrame): void {
    this.sendText(JSON.stringify(frame));
  }

  /** Write pre-serialised JSON; a reader that lets the buffer pass the bound is dropped (LIM-1). */
  sendText(text: string): void {
    if (this.closed) return;
    this.connection.send(text);
    if (this.connection.bufferedBytes() > this.#maxBufferedBytes) this.#onOverflow(this);
  }
}
