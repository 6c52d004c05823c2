import type { Logger } from 'pino';
import { openStore, type Store } from '../storage/index.ts';
import type { Config } from './config/schema.ts';
import type { FrameHandlers, ServerContext } from './context.ts';
import { resolveSecrets, storageFile } from './runtime-config.ts';
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
import { PushService } from '../push/push-service.ts';
import { createProviders, validateCredentials } from '../push/providers/create-providers.ts';
import { SandboxProvider } from '../push/providers/sandbox/sandbox-provider.ts';
import { pushRegistrationFeature } from './features/push-registration.ts';
import { pushAdminRoutes } from './features/push-admin.ts';
import { devAdminRoutes } from './features/dev-admin.ts';
import { withStaticFiles } from './http-static.ts';
import { callsFeature } from './features/calls.ts';
import { settingsFeature } from './features/settings.ts';
import { ListenError, type Transport, type TransportFactory } from './transports/transport.ts';
import { loadTransportFactory } from './transports/index.ts';

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

export async function startServer(config: Config, options: CreateServerOptions = {}): Promise<TidingsServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  // Bad credentials are a configuration error: refuse before touching the database.
  validateCredentials(config.push.credentials);
  const store: Store = await openStore(
    { dialect: config.storage.dialect, file: storageFile(config), synchronous: config.storage.synchronous, cacheSizeMb: config.storage.cacheSizeMb },
    { maxGroupMembers: config.limits.maxGroupMembers, maxBatch: config.storage.maxBatch, writer: config.storage.writer },
  );
  const events = new DomainEvents();
  const registry = new SessionRegistry(new InMemoryPresence(), events, {
    heartbeatTimeoutMs: config.heartbeat.timeoutMs, loginTimeoutMs: config.limits.loginTimeoutMs,
  });
  const sandboxMode = config.push.sandbox || Object.keys(config.push.credentials).length === 0;
  const sandbox = new SandboxProvider({ max: config.push.sandboxMaxRecords });
  const providers = createProviders(config.push.credentials, {
    sandbox: sandboxMode, sandboxProvider: sandbox,
    log: (entry) => logger.info(entry, 'push provider'),
  });
  const metrics = createMetrics();
  const pushService = new PushService({
    log: store.log, readModels: store.readModels, store: store.push, settings: store.settings, providers, logger,
    isDeviceOnline: (userId, deviceId) => registry.presence.isDeviceOnline(userId, deviceId),
    observer: {
      jobDone(outcome, provider, waitedMs, vendorMs) {
        metrics.pushJobs.inc({ outcome });
        metrics.pushWait.observe(Math.max(0, waitedMs) / 1000);
        if (provider && vendorMs !== undefined) metrics.pushVendor.observe({ provider }, vendorMs / 1000);
      },
    },
  }, {
    concurrency: config.push.concurrency, maxAttempts: config.push.maxAttempts, retryBaseMs: config.push.retryBaseMs,
    retryMaxMs: config.push.retryMaxMs, replayLimit: config.push.replayLimit, pollMs: config.push.pollMs,
    startupGraceMs: config.push.startupGraceMs, traceRetentionMs: config.push.traceRetentionHours * 3600_000,
    collapseWindowMs: config.push.collapseWindowMs,
    payload: { defaultTitle: config.push.defaultTitle, defaultBody: config.push.defaultBody, ttlSec: config.push.ttlSec },
  });
  if (sandboxMode) logger.warn('no push credentials configured: pushes go to the sandbox (GET /admin/pushes)');
  const ctx: ServerContext = {
    config, secrets: resolveSecrets(config, logger), store, registry, events, logger,
    metrics, state: { draining: false },
    push: { service: pushService, providers, sandbox: sandboxMode ? sandbox : undefined },
  };
  // The push module hears presence and the log as domain events; it never sees a socket.
  store.log.onCommitted((results) => pushService.onCommitted(results));
  events.on('device_offline', (e) => pushService.onDeviceOffline(e));
  events.on('device_online', (e) => pushService.onDeviceOnline(e));
  events.on('device_logged_out', (e) => pushService.onDeviceLoggedOut(e));
  events.on('device_offline', (e) => {
    ctx.metrics.deviceOffline.inc({ reason: e.reason });
    logger.info({ userId: e.userId, deviceId: e.deviceId, reason: e.reason, ackedSeq: e.ackedSeq }, 'device offline');
  });

  const calls = callsFeature(ctx);
  const handlers: FrameHandlers = Object.assign({}, calls.handlers,
    loginFeature(ctx), messagingFeature(ctx), groupsFeature(ctx), deliveryFeature(ctx), readsFeature(ctx),
    pushRegistrationFeature(ctx), settingsFeature(ctx));
  const adminRoutes = new Map<string, AdminRoute>([
    ['GET /admin/sessions', () => json(200, {
      sessions: [...registry.presence.all()].map((s) => ({ ...s.identity, sessionId: s.sessionId, mode: s.mode, ackedSeq: s.ackedSeq, deliveredSeq: s.deliveredSeq })),
    })],
    ...pushAdminRoutes(ctx),
    ...devAdminRoutes(ctx),
  ]);

  const gateway = createGateway(ctx, handlers);
  const transportFactory = options.transport ?? await loadTransportFactory(config.transport);
  const transport: Transport = transportFactory({
    host: config.host, port: config.port,
    hardMaxPayloadBytes: Math.max(config.limits.maxFrameBytes * 4, 1024 * 1024),
    maxHttpBodyBytes: 1024 * 1024,
    onConnection: gateway.onConnection,
    onHttp: withStaticFiles(createHttpHandler(ctx, adminRoutes)),
  });
  let port: number;
  try {
    port = await transport.listen();
  } catch (error) {
    // Nothing else has started yet but the store (and its writer thread): close it so the process can end.
    await store.close();
    throw new ListenError(config.host, config.port, error as Error);
  }
  registry.start();
  // Calls first: overdue calls are timed out before the outbox resumes and considers their rings.
  await calls.start();
  await pushService.start();
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
        // One budget for the whole drain, so the process always exits within shutdown.graceMs.
        const deadline = Date.now() + config.shutdown.graceMs;
        const untilDeadline = () => new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref());
        await Promise.race([flushed, untilDeadline()]);
        for (const session of sessions) registry.end(session, 'server_shutdown', 'server restarting');
        registry.stop();
        calls.stop();
        // Jobs in flight finish; pending ones stay in the outbox and resume at the next start.
        await Promise.race([pushService.stop(), untilDeadline()]);
        await providers.close();
        await transport.close();
        await store.close();
        logger.info('tidings stopped');
      })();
      return stopping;
    },
  };
}

export { resolveSecrets, storageFile } from './runtime-config.ts';
