import type { Logger } from 'pino';
import { openStore, type Store } from '../storage/index.ts';
import { PushService } from '../push/push-service.ts';
import { createProviders } from '../push/vendors/providers.ts';
import type { Config } from './config/schema.ts';
import type { FrameHandlers, ServerContext } from './context.ts';
import { resolveSecrets, storageConfig, storageLabel } from './runtime-config.ts';
import { DomainEvents } from './domain-events.ts';
import { createEngines } from './engine.ts';
import { deliveryFeature } from './features/delivery.ts';
import { groupsFeature } from './features/groups.ts';
import { loginFeature } from './features/login.ts';
import { messagingFeature } from './features/messaging.ts';
import { readsFeature } from './features/reads.ts';
import { pushRegistrationFeature } from './features/push-registration.ts';
import { pushAdminRoutes } from './features/push-admin.ts';
import { devAdminRoutes } from './features/dev-admin.ts';
import { withStaticFiles } from './http-static.ts';
import { callsFeature } from './features/calls.ts';
import { settingsFeature } from './features/settings.ts';
import { createGateway } from './gateway.ts';
import { createHttpHandler, json, type AdminRoute } from './http-routes.ts';
import { createLogger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { Hub } from './sessions/hub.ts';
import { SessionRegistry } from './sessions/session-registry.ts';
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

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

/** The start-up warning for metrics anyone who reaches the port can read, if that is the case. */
export function metricsExposureWarning(config: Pick<Config, 'host' | 'metrics'>): string | undefined {
  return !config.metrics.secret && !isLoopback(config.host) ? 'GET /metrics is public on a non-loopback address: set metrics.secret' : undefined;
}

/** A listener that threw is logged and counted; the append or event it heard still completed. */
function listenerErrors(logger: Logger, metrics: Metrics) {
  return (listener: string, error: unknown) => {
    metrics.listenerErrors.inc({ listener });
    logger.error({ err: error, listener }, 'listener failed');
  };
}

/** Which pushes go where, once the store and the engines exist. */
function createPush(config: Config, store: Store, ctx: Pick<ServerContext, 'presence' | 'logger' | 'metrics'>) {
  const { logger, metrics } = ctx;
  const providers = createProviders(config.push.credentials as never, {
    sandbox: config.push.sandbox,
    deps: {
      log: (entry) => logger.info(entry, 'push provider'),
      state: { get: (key) => store.push.vendorState(key, Date.now()), set: (key, value, expiresAt) => store.push.saveVendorState(key, value, expiresAt) },
    },
  });
  const service = new PushService({
    log: store.log, cursors: store.cursors, readModels: store.readModels, store: store.push, settings: store.settings, providers, logger,
    presence: ctx.presence,
    observer: {
      jobDone(outcome, provider, waitedMs, vendorMs) {
        metrics.pushJobs.inc({ outcome });
        metrics.pushWait.observe(Math.max(0, waitedMs) / 1000);
        if (provider && vendorMs !== undefined) metrics.pushVendor.observe({ provider }, vendorMs / 1000);
      },
      triggerFailed(work, gaveUp) {
        metrics.pushTriggerFailures.inc({ work, gave_up: String(gaveUp) });
      },
      triggerDone(work, waitedMs, ranMs) {
        metrics.pushTrigger.observe({ work, phase: 'wait' }, waitedMs / 1000);
        metrics.pushTrigger.observe({ work, phase: 'run' }, ranMs / 1000);
      },
    },
  }, {
    concurrency: config.push.concurrency, maxAttempts: config.push.maxAttempts, retryBaseMs: config.push.retryBaseMs,
    retryMaxMs: config.push.retryMaxMs, replayLimit: config.push.replayLimit, pollMs: config.push.pollMs, claimLeaseMs: config.push.claimLeaseMs,
    startupGraceMs: config.push.startupGraceMs, traceRetentionMs: config.push.traceRetentionHours * 3600_000,
    tracePruneEveryMs: config.push.tracePruneEveryMs, collapseWindowMs: config.push.collapseWindowMs, badgeUpdateWindowMs: config.push.badgeUpdateWindowMs,
    triggerRetryMs: config.push.triggerRetryMs, triggerConcurrency: config.push.triggerConcurrency,
    payload: { defaultTitle: config.push.defaultTitle, defaultBody: config.push.defaultBody, ttlSec: config.push.ttlSec },
  });
  if (providers.sandboxMode) logger.warn('no push credentials configured: pushes go to the sandbox (GET /admin/pushes)');
  return { service, providers };
}

/** The reactions between modules: all of them are wired here, none inside a feature. */
function wire(ctx: ServerContext): void {
  const { store, broker, events, push, metrics, logger } = ctx;
  // Another node's commits: this node's caches follow them before delivery looks at them.
  broker.onPublication((results, origin) => { if (origin === 'remote') store.log.observe(results); });
  broker.onSignal((topic, payload) => {
    if (topic !== 'blocks') return;
    store.settings.reloadBlocks(payload).catch((error: unknown) => logger.error({ err: error, userId: payload }, 'reloading blocks failed'));
  });
  broker.onResume(() => {
    store.settings.reloadAllBlocks().catch((error: unknown) => logger.error({ err: error }, 'reloading blocks after the broker resumed failed'));
  });
  // Every committed event reaches live delivery through the broker, even on one node.
  store.log.onCommitted('broker', (results) => broker.publish(results));
  store.log.onCommitted('push', (results) => push.service.onCommitted(results));
  store.log.onCommitted('metrics', (results) => {
    for (const result of results) {
      metrics.eventsAppended.inc({ kind: result.event.kind });
      metrics.inboxRows.inc(result.seqs.size);
    }
    metrics.commitBatch.observe(results.length);
  });
  // The push module hears presence as domain events; it never sees a socket.
  events.on('device_offline', 'push', (e) => push.service.onDeviceOffline(e));
  events.on('device_online', 'push', (e) => push.service.onDeviceOnline(e));
  events.on('device_logged_out', 'push', (e) => push.service.onDeviceLoggedOut(e));
  events.on('device_offline', 'log', (e) => {
    metrics.deviceOffline.inc({ reason: e.reason });
    logger.info({ userId: e.userId, deviceId: e.deviceId, reason: e.reason, ackedSeq: e.ackedSeq }, 'device offline');
  });
  // Commands for this node's sessions (kick, replace), from this node or another.
  ctx.controller.onCommand((target, command) => {
    const session = ctx.hub.bySessionId(target.userId, target.sessionId);
    if (!session) return;
    if (command.notice) session.send(command.notice);
    ctx.sessions.end(session, command.reason, command.message);
  });
}

export async function startServer(config: Config, options: CreateServerOptions = {}): Promise<TidingsServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const onListenerError = listenerErrors(logger, metrics);
  const store = await openStore(storageConfig(config), {
    maxGroupMembers: config.limits.maxGroupMembers, maxBatch: config.storage.maxBatch, maxAppendWaitMs: config.storage.maxAppendWaitMs, writer: config.storage.writer,
    cursorFlushMs: config.storage.cursorFlushMs, onListenerError,
  });
  const engines = await createEngines(config, (error) => logger.error({ err: error }, 'cluster engine error'));
  const hub = new Hub();
  const events = new DomainEvents(onListenerError);
  const sessions = new SessionRegistry({
    hub, presence: engines.presence, broker: engines.broker, events, logger, ackedSeq: (u, d) => store.cursors.ackedSeq(u, d),
    ackedSeqSaved: (u, d) => store.cursors.ackedSeqSaved(u, d),
  }, {
    nodeId: engines.nodeId, heartbeatTimeoutMs: config.heartbeat.timeoutMs, loginTimeoutMs: config.limits.loginTimeoutMs, sweepMs: config.cluster.sweepMs,
  });
  const base = { presence: engines.presence, logger, metrics };
  const ctx: ServerContext = {
    config, secrets: resolveSecrets(config, logger), store, hub, ...engines, sessions, events, logger, metrics,
    lifecycle: { draining: false }, push: createPush(config, store, base),
  };
  wire(ctx);
  const exposure = metricsExposureWarning(config);
  if (exposure) logger.warn({ host: config.host }, exposure);

  const calls = callsFeature(ctx);
  const handlers: FrameHandlers = Object.assign({}, calls.handlers,
    loginFeature(ctx), messagingFeature(ctx), groupsFeature(ctx), deliveryFeature(ctx), readsFeature(ctx),
    pushRegistrationFeature(ctx), settingsFeature(ctx));
  const adminRoutes = new Map<string, AdminRoute>([
    ['GET /admin/sessions', () => json(200, {
      sessions: [...hub.all()].map((s) => ({ ...s.identity, sessionId: s.sessionId, mode: s.delivery.mode, ackedSeq: s.delivery.ackedSeq, deliveredSeq: s.delivery.deliveredSeq })),
    })],
    ...pushAdminRoutes(ctx),
    ...devAdminRoutes(ctx),
  ]);

  const gateway = createGateway(ctx, handlers);
  const transportFactory = options.transport ?? await loadTransportFactory(config.transport);
  const transport: Transport = transportFactory({
    host: config.host, port: config.port,
    hardMaxPayloadBytes: Math.max(config.limits.maxFrameBytes * 4, 1024 * 1024),
    maxHttpBodyBytes: config.limits.maxHttpBodyBytes,
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
  sessions.start();
  // Calls first: overdue calls are timed out before the outbox resumes and considers their rings.
  await calls.start();
  await ctx.push.service.start();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = config.publicUrl ?? `ws://${host}:${port}`;
  logger.info({ url, transport: transport.name, storage: storageLabel(config), nodeId: engines.nodeId }, 'tidings listening');

  let stopping: Promise<void> | undefined;
  return {
    ctx, port, url,
    stop() {
      stopping ??= (async () => {
        ctx.lifecycle.draining = true;
        await transport.stopAccepting();
        const open = [...hub.all()];
        for (const session of open) session.send({ type: 'reconnect', reason: 'server_shutdown', afterMs: config.shutdown.reconnectAfterMs });
        const flushed = store.log.flush();
        // One budget for the whole drain, so the process always exits within shutdown.graceMs.
        const deadline = Date.now() + config.shutdown.graceMs;
        const untilDeadline = () => new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref());
        await Promise.race([flushed, untilDeadline()]);
        for (const session of open) sessions.end(session, 'server_shutdown', 'server restarting');
        sessions.stop();
        calls.stop();
        // Jobs in flight finish; pending ones stay in the outbox and resume at the next start.
        await Promise.race([ctx.push.service.stop(), untilDeadline()]);
        await ctx.push.providers.close();
        await transport.close();
        await Promise.all([engines.broker.close(), engines.controller.close(), engines.presence.close()]);
        await engines.closeEngines();
        await store.close();
        logger.info('tidings stopped');
      })();
      return stopping;
    },
  };
}
