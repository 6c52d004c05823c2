import type { Logger } from 'pino';
import type { ClientFrameOf, ClientFrameType } from '../protocol/index.ts';
import type { Store } from '../storage/index.ts';
import type { PushService } from '../push/push-service.ts';
import type { ProviderRegistry } from '../push/vendors/providers.ts';
import type { Broker } from './cluster/broker.ts';
import type { Controller } from './cluster/controller.ts';
import type { PresenceDirectory } from './cluster/presence.ts';
import type { Config } from './config/schema.ts';
import type { DomainEvents } from './domain-events.ts';
import type { Metrics } from './metrics.ts';
import type { Hub } from './sessions/hub.ts';
import type { SessionRegistry } from './sessions/session-registry.ts';
import type { Session } from './sessions/session.ts';

/**
 * Everything the composition root (app.ts) builds. Each feature declares the part it needs
 * (`Pick<ServerContext, …>`); features never import each other.
 */
export interface ServerContext {
  config: Config;
  secrets: { app: readonly string[]; admin: string | undefined };
  store: Store;
  /** This node's sockets. */
  hub: Hub;
  /** Which devices are online anywhere. */
  presence: PresenceDirectory;
  broker: Broker;
  controller: Controller;
  sessions: SessionRegistry;
  events: DomainEvents;
  logger: Logger;
  metrics: Metrics;
  /** Set once a graceful stop began: new work is refused (LIM-2). */
  lifecycle: { draining: boolean };
  push: { service: PushService; providers: ProviderRegistry };
}

export type FrameHandler<T extends ClientFrameType> = (session: Session, frame: ClientFrameOf<T>) => void | Promise<void>;
export type FrameHandlers = { [T in ClientFrameType]?: FrameHandler<T> };
