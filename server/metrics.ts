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
    inboxRows: new Counter({ name: 'tidings_inbox_rows_total', help: 'Inbox entries handed out, one per recipient of each event (fan-out; on SQLite a run of one group\'s events shares a row)', registers: [registry] }),
    sendAck: new Histogram({
      name: 'tidings_send_ack_seconds', help: 'Sends: from the frame reaching its handler to its send_ack (append, group commit, delivery of the batch); what the server adds to a client\'s send→ack',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5], registers: [registry],
    }),
    commitBatch: new Histogram({ name: 'tidings_commit_batch_events', help: 'Events per group commit', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], registers: [registry] }),
    connections: new Gauge({ name: 'tidings_connections', help: 'Open WebSocket connections', registers: [registry] }),
    sessions: new Gauge({ name: 'tidings_sessions', help: 'Authenticated sessions (online devices)', registers: [registry] }),
    listenerErrors: new Counter({ name: 'tidings_listener_errors_total', help: 'Commit and domain-event listeners that threw (the append or event still completed), by listener', labelNames: ['listener'], registers: [registry] }),
    deviceOffline: new Counter({ name: 'tidings_device_offline_total', help: 'Devices that went offline, by reason', labelNames: ['reason'], registers: [registry] }),
    pushTriggerFailures: new Counter({ name: 'tidings_push_trigger_failures_total', help: 'Push decisions that failed (database or Redis unreachable), by work and whether they were given up', labelNames: ['work', 'gave_up'], registers: [registry] }),
    pushTrigger: new Histogram({
      name: 'tidings_push_trigger_seconds', help: 'Push-trigger work (committed, offline, online, logged_out, …): waiting for its lane and a slot (phase=wait), then running (phase=run)',
      labelNames: ['work', 'phase'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [registry],
    }),
    pushJobs: new Counter({ name: 'tidings_push_jobs_total', help: 'Push jobs ended or rescheduled, by trace decision:reason', labelNames: ['outcome'], registers: [registry] }),
    pushWait: new Histogram({
      name: 'tidings_push_wait_seconds', help: 'Push jobs: from due to the vendor call (or to the cancel), i.e. outbox lag',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers: [registry],
    }),
    pushVendor: new Histogram({
      name: 'tidings_push_vendor_seconds', help: 'Push vendor call duration, by provider', labelNames: ['provider'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
