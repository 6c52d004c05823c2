import { nanoid } from 'nanoid';
import type { Logger } from 'pino';
import type { Broker } from '../cluster/broker.ts';
import type { DeviceEntry, PresenceDirectory } from '../cluster/presence.ts';
import type { DomainEvents } from '../domain-events.ts';
import type { Hub } from './hub.ts';
import { CloseCode, type DeviceIdentity, type OfflineReason, type Session } from './session.ts';

export interface RegistryOptions {
  nodeId: string;
  heartbeatTimeoutMs: number;
  loginTimeoutMs: number;
  /** How often to look for devices of nodes that died (expired presence entries). */
  sweepMs: number;
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
  node_lost: CloseCode.normal,
};

/**
 * Session lifecycle and presence (ON-1, ON-2): a device is online exactly while it has an
 * authenticated session whose frames keep arriving before the heartbeat deadline. A clean close
 * is noticed at once, a silent drop when the deadline passes; both end in one `device_offline`,
 * emitted once the presence directory no longer lists the session.
 */
export class SessionRegistry {
  readonly #hub: Hub;
  readonly #presence: PresenceDirectory;
  readonly #broker: Broker;
  readonly #events: DomainEvents;
  readonly #logger: Logger;
  readonly #options: RegistryOptions;
  readonly #anonymous = new Set<Session>();
  readonly #ackedSeq: (userId: string, deviceId: string) => Promise<number>;
  readonly #ackedSeqSaved: (userId: string, deviceId: string) => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;
  #every = 1000;
  #lastScanAt = Date.now();

  constructor(deps: {
    hub: Hub; presence: PresenceDirectory; broker: Broker; events: DomainEvents; logger: Logger;
    ackedSeq(userId: string, deviceId: string): Promise<number>;
    ackedSeqSaved(userId: string, deviceId: string): Promise<void>;
  }, options: RegistryOptions) {
    this.#ackedSeq = deps.ackedSeq;
    this.#ackedSeqSaved = deps.ackedSeqSaved;
    this.#hub = deps.hub;
    this.#presence = deps.presence;
    this.#broker = deps.broker;
    this.#events = deps.events;
    this.#logger = deps.logger;
    this.#options = options;
  }

  start(): void {
    // Scanning a few times per timeout is cheaper than a timer per socket re-armed on every frame.
    const every = Math.max(10, Math.min(1000, Math.floor(this.#options.heartbeatTimeoutMs / 4)));
    this.#every = every;
    this.#lastScanAt = Date.now();
    this.#timer = setInterval(() => this.#scan(), every);
    this.#timer.unref();
    this.#sweeper = setInterval(() => void this.#sweepLostNodes(), this.#options.sweepMs);
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#sweeper) clearInterval(this.#sweeper);
  }

  /**
   * The devices of a node that died: its presence entries expired. The directory hands each to one
   * node, which announces it offline, as the dead node would have at the heartbeat deadline, with
   * the cursor the device last acked (MSG-4: its un-acked events are pushed once).
   */
  async #sweepLostNodes(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      for (const entry of await this.#presence.expired()) {
        // Still here (this node was too busy to refresh in time): it is online, say so again.
        if (this.#hub.bySessionId(entry.userId, entry.sessionId)) {
          await this.#presence.add(entry);
          continue;
        }
        const ackedSeq = await this.#ackedSeq(entry.userId, entry.deviceId);
        this.#events.emit('device_offline', {
          userId: entry.userId, deviceId: entry.deviceId, platform: entry.platform, sessionId: entry.sessionId,
          reason: 'node_lost', ackedSeq, deliveredSeq: ackedSeq, at: Date.now(),
        });
      }
    } catch (error) {
      this.#logger.error({ err: error }, 'presence sweep failed');
    } finally {
      this.#sweeping = false;
    }
  }

  track(session: Session): void {
    this.#anonymous.add(session);
  }

  #entryOf(session: Session): DeviceEntry {
    return { ...session.identity!, sessionId: session.sessionId, nodeId: this.#options.nodeId };
  }

  /**
   * Login succeeded: the session joins this node's hub and the presence directory. Resolves with
   * the directory entry of the device's previous session, if one was still listed (to be replaced).
   */
  async authenticate(session: Session, identity: DeviceIdentity): Promise<DeviceEntry | undefined> {
    this.#anonymous.delete(session);
    session.authenticated(identity, nanoid(12));
    if (this.#hub.add(session)) this.#broker.subscribe(identity.userId);
    const replaced = await this.#presence.add(this.#entryOf(session));
    this.#events.emit('device_online', { ...identity, sessionId: session.sessionId });
    return replaced?.sessionId === session.sessionId ? undefined : replaced;
  }

  /** End a session once, for one reason; closes the socket unless the peer already did. */
  end(session: Session, reason: OfflineReason, message: string = reason): void {
    if (!session.ended(reason)) return;
    this.#anonymous.delete(session);
    if (reason === 'heartbeat_timeout') session.connection.terminate();
    else if (reason !== 'closed') session.connection.close(CLOSE_FOR_REASON[reason], message);
    if (!session.identity) return;
    if (this.#hub.remove(session)) this.#broker.unsubscribe(session.userId);
    const offline = {
      ...session.identity, sessionId: session.sessionId, reason,
      ackedSeq: session.delivery.ackedSeq, deliveredSeq: session.delivery.deliveredSeq, at: Date.now(),
    };
    // The device's last ack is committed before the directory lets it go: a node that then finds
    // it offline and queues a push reads that ack from the database (MSG-4), not a cursor only
    // this node holds. Offline is announced once the directory agrees, so a replay that checks
    // presence finds the device gone.
    this.#ackedSeqSaved(offline.userId, offline.deviceId)
      .then(() => this.#presence.remove(this.#entryOf(session)))
      .catch((error: unknown) => this.#logger.error({ err: error, userId: offline.userId, deviceId: offline.deviceId }, 'presence remove failed'))
      .finally(() => this.#events.emit('device_offline', offline));
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
        session.ended('closed');
        this.#anonymous.delete(session);
        session.connection.close(CloseCode.loginTimeout, 'login timeout');
      }
    }
    const live: DeviceEntry[] = [];
    for (const session of [...this.#hub.all()]) {
      if (now - session.lastSeenAt > this.#options.heartbeatTimeoutMs) this.end(session, 'heartbeat_timeout');
      else live.push(this.#entryOf(session));
    }
    this.#presence.refresh(live).catch((error: unknown) => this.#logger.error({ err: error }, 'presence refresh failed'));
  }
}
