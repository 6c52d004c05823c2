import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per server instance, so several servers in one test process do not collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tidings_process_' });
  return {
    registry,
    framesReceived: new Counter({ name: 'tidings_frames_received_total', help: 'Client frames received, by type', labelNames: ['type'], registers: [registry] }),
    errorsSent: new Counter({ name: 'tidings_errors_sent_total', help: 'Error frames sent, by code', labelNames: ['code'], registers: [registry] }),
    eventsAppended: new Counter({ name: 'tidings_events_appended_total', help: 'Events committed to the log, by kind', labelNames: ['kind'], registers: [registry] }),
    inboxRows: new Counter({ name: 'tidings_inbox_rows_total', help: 'Inbox rows written (fan-out)', registers: [registry] }),
    commitBatch: new Histogram({ name: 'tidings_commit_batch_events', help: 'Events per group commit', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], registers: [registry] }),
    connections: new Gauge({ name: 'tidings_connections', help: 'Open WebSocket connections', registers: [registry] }),
    sessions: new Gauge({ name: 'tidings_sessions', help: 'Authenticated sessions (online devices)', registers: [registry] }),
    deviceOffline: new Counter({ name: 'tidings_device_offline_total', help: 'Devices that went offline, by reason', labelNames: ['reason'], registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
