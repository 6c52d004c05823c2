import type { Logger } from 'pino';
import type { ClientFrameOf, ClientFrameType } from '../protocol/index.ts';
import type { Store } from '../storage/index.ts';
import type { PushService } from '../push/push-service.ts';
import type { ProviderRegistry } from '../push/providers/types.ts';
import type { SandboxProvider } from '../push/providers/sandbox/sandbox-provider.ts';
import type { Config } from './config/schema.ts';
import type { DomainEvents } from './domain-events.ts';
import type { Metrics } from './metrics.ts';
import type { SessionRegistry } from './sessions/session-registry.ts';
import type { Session } from './sessions/session.ts';

/** What every feature module receives; features never import each other. */
export interface ServerContext {
  config: Config;
  secrets: { app: readonly string[]; admin: string | undefined };
  store: Store;
  registry: SessionRegistry;
  events: DomainEvents;
  logger: Logger;
  metrics: Metrics;
  state: { draining: boolean };
  push: { service: PushService; providers: ProviderRegistry; sandbox: SandboxProvider | undefined };
}

export type FrameHandler<T extends ClientFrameType> = (session: Session, frame: ClientFrameOf<T>) => void | Promise<void>;
export type FrameHandlers = { [T in ClientFrameType]?: FrameHandler<T> };
