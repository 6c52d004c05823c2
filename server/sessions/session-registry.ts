import { nanoid } from 'nanoid';
import type { DomainEvents } from '../domain-events.ts';
import type { PresenceDirectory } from './presence.ts';
import { CloseCode, type DeviceIdentity, type OfflineReason, type Session } from './session.ts';

export interface RegistryOptions {
  heartbeatTimeoutMs: number;
  loginTimeoutMs: number;
}

const CLOSE_FOR_REASON: Record<OfflineReason, number> = {
  closed: CloseCode.normal,
  heartbeat_timeout: CloseCode.heartbeatTimeout,
  logout: CloseCode.loggedOut,
  kicked: CloseCode.kicked,
  replaced: CloseCode.replaced,
  slow_reader: CloseCode.slowReader,
  rate_abuse: CloseCode.policy,
  server_shutdown: CloseCode.serviceRestart,
  error: CloseCode.policy,
};

/**
 * The session registry is presence (ON-1, ON-2): a device is online exactly while it has an
 * authenticated session whose frames keep arriving before the heartbeat deadline. A clean close
 * is noticed at once, a silent drop when the deadline passes; both end in one `device_offline`.
 */
export class SessionRegistry {
  readonly presence: PresenceDirectory;
  readonly #events: DomainEvents;
  readonly #options: RegistryOptions;
  readonly #anonymous = new Set<Session>();
  #timer: NodeJS.Timeout | undefined;
  #every = 1000;
  #lastScanAt = Date.now();

  constructor(presence: PresenceDirectory, events: DomainEvents, options: RegistryOptions) {
    this.presence = presence;
    this.#events = events;
    this.#options = options;
  }

  start(): void {
    // Scanning a few times per timeout is cheaper than a timer per socket re-armed on every frame.
    const every = Math.max(10, Math.min(1000, Math.floor(this.#options.heartbeatTimeoutMs / 4)));
    this.#every = every;
    this.#lastScanAt = Date.now();
    this.#timer = setInterval(() => this.#scan(), every);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  track(session: Session): void {
    this.#anonymous.add(session);
  }

  get anonymousCount(): number {
    return this.#anonymous.size;
  }

  authenticate(session: Session, identity: DeviceIdentity): void {
    this.#anonymous.delete(session);
    session.identity = identity;
    session.sessionId = nanoid(12);
    session.mode = 'idle';
    this.presence.add(session);
    this.#events.emit('device_online', { ...identity, sessionId: session.sessionId });
  }

  /** End a session once, for one reason; closes the socket unless the peer already did. */
  end(session: Session, reason: OfflineReason, message: string = reason): void {
    if (session.closed) return;
    session.closed = true;
    session.offlineReason = reason;
    this.#anonymous.delete(session);
    if (reason === 'heartbeat_timeout') session.connection.terminate();
    else if (reason !== 'closed') session.connection.close(CLOSE_FOR_REASON[reason], message);
    if (!session.identity) return;
    this.presence.remove(session);
    this.#events.emit('device_offline', {
      ...session.identity, sessionId: session.sessionId, reason,
      ackedSeq: session.ackedSeq, deliveredSeq: session.deliveredSeq, at: Date.now(),
    });
  }

  #scan(): void {
    const wallNow = Date.now();
    // After the event loop was blocked, timers run before the sockets' queued frames are read:
    // the blocked time is not the devices' silence, so it does not count against their deadline.
    const lag = Math.max(0, wallNow - this.#lastScanAt - this.#every);
    this.#lastScanAt = wallNow;
    const now = wallNow - lag;
    for (const session of this.#anonymous) {
      if (now - session.connectedAt > this.#options.loginTimeoutMs) {
        session.closed = true;
        this.#anonymous.delete(session);
        session.connection.close(CloseCode.loginTimeout, 'login timeout');
      }
    }
    for (const session of [...this.presence.all()]) {
      if (now - session.lastSeenAt > this.#options.heartbeatTimeoutMs) this.end(session, 'heartbeat_timeout');
    }
  }
}
