import type { Logger } from 'pino';
import { openStore, type Store } from '../storage/index.ts';
import type { Config } from './config/schema.ts';
import type { FrameHandlers, ServerContext } from './context.ts';
import { loadOrCreateDevSecrets } from './dev-secrets.ts';
import { DomainEvents } from './domain-events.ts';
import { deliveryFeature } from './features/delivery.ts';
import { groupsFeature } from './features/groups.ts';
import { loginFeature } from './features/login.ts';
import { messagingFeature } from './features/messaging.ts';
import { readsFeature } from './features/reads.ts';
import { createGateway } from './gateway.ts';
import { createHttpHandler, json, type AdminRoute } from './http-routes.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { InMemoryPresence } from './sessions/presence.ts';
import { SessionRegistry } from './sessions/session-registry.ts';
import { join } from 'node:path';
import type { Transport, TransportFactory } from './transports/transport.ts';
import { createWsTransport } from './transports/ws-transport.ts';

export interface TidingsServer {
  readonly ctx: ServerContext;
  readonly port: number;
  readonly url: string;
  /** Graceful stop (LIM-2): refuse new work, hint clients to reconnect, flush, close. */
  stop(): Promise<void>;
}

export interface CreateServerOptions {
  logger?: Logger;
  transport?: TransportFactory;
}

export function storageFile(config: Config): string {
  return config.storage.file ?? join(config.dataDir, 'tidings.db');
}

export function resolveSecrets(config: Config, logger?: Logger): ServerContext['secrets'] {
  if (config.auth.secrets.length > 0) return { app: config.auth.secrets, admin: config.admin.secret };
  const { secrets, file, created } = loadOrCreateDevSecrets(config.dataDir);
  logger?.warn({ file, created }, 'no auth.secrets configured: using generated development secrets');
  return { app: [secrets.app], admin: config.admin.secret ?? secrets.admin };
}

export async function startServer(config: Config, options: CreateServerOptions = {}): Promise<TidingsServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const store: Store = await openStore(
    { dialect: config.storage.dialect, file: storageFile(config), synchronous: config.storage.synchronous },
    { maxGroupMembers: config.limits.maxGroupMembers, maxBatch: config.storage.maxBatch },
  );
  const events = new DomainEvents();
  const registry = new SessionRegistry(new InMemoryPresence(), events, {
    heartbeatTimeoutMs: config.heartbeat.timeoutMs, loginTimeoutMs: config.limits.loginTimeoutMs,
  });
  const ctx: ServerContext = {
    config, secrets: resolveSecrets(config, logger), store, registry, events, logger,
    metrics: createMetrics(), state: { draining: false },
  };
  events.on('device_offline', (e) => {
    ctx.metrics.deviceOffline.inc({ reason: e.reason });
    logger.info({ userId: e.userId, deviceId: e.deviceId, reason: e.reason, ackedSeq: e.ackedSeq }, 'device offline');
  });

  const handlers: FrameHandlers = Object.assign({},
    loginFeature(ctx), messagingFeature(ctx), groupsFeature(ctx), deliveryFeature(ctx), readsFeature(ctx));
  const adminRoutes = new Map<string, AdminRoute>([
    ['GET /admin/sessions', () => json(200, {
      sessions: [...registry.presence.all()].map((s) => ({ ...s.identity, sessionId: s.sessionId, mode: s.mode, ackedSeq: s.ackedSeq, deliveredSeq: s.deliveredSeq })),
    })],
  ]);

  const gateway = createGateway(ctx, handlers);
  const transportFactory = options.transport ?? createWsTransport;
  const transport: Transport = transportFactory({
    host: config.host, port: config.port,
    hardMaxPayloadBytes: Math.max(config.limits.maxFrameBytes * 4, 1024 * 1024),
    maxHttpBodyBytes: 1024 * 1024,
    onConnection: gateway.onConnection,
    onHttp: createHttpHandler(ctx, adminRoutes),
  });
  const port = await transport.listen();
  registry.start();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = config.publicUrl ?? `ws://${host}:${port}`;
  logger.info({ url, transport: transport.name, db: storageFile(config) }, 'tidings listening');

  let stopping: Promise<void> | undefined;
  return {
    ctx, port, url,
    stop() {
      stopping ??= (async () => {
        ctx.state.draining = true;
        await transport.stopAccepting();
        const sessions = [...registry.presence.all()];
        for (const session of sessions) session.send({ type: 'reconnect', reason: 'server_shutdown', afterMs: config.shutdown.reconnectAfterMs });
        const flushed = store.log.flush();
        await Promise.race([flushed, new Promise((resolve) => setTimeout(resolve, config.shutdown.graceMs).unref())]);
        for (const session of sessions) registry.end(session, 'server_shutdown', 'server restarting');
        registry.stop();
        await transport.close();
        await store.close();
        logger.info('tidings stopped');
      })();
      return stopping;
    },
  };
}
