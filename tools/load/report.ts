/** The end of a load run: the summary table on stdout, a JSON report and a self-contained HTML page. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AccountingResult } from './accounting.ts';
import type { ProcessUsage } from './resources.ts';
import type { ServerLatency } from './server-metrics.ts';
import { fmtMs, type DriftSeries, type HistogramBucket, type HistoryDrift, type LatencySummary, type LatencyWindow, type TimelineRow } from './stats.ts';
import type { World } from './world.ts';

/** With --cluster: every process of the run, and the kill. */
export interface ClusterReport {
  cores: number;
  settings: { presenceTtlMs: number; sweepMs: number; claimLeaseMs: number; redisPrefix: string };
  nodes: Array<ProcessUsage & {
    id: string; url: string; dataDir: string; log: string; killed: boolean;
    /** Device connections the load balancer sent it. */
    connectionsRouted: number;
    sessionsPeak: number | null;
    sessionsEnd: number | null;
  }>;
  /** PostgreSQL: the postmaster and its backends together. */
  postgres: (ProcessUsage & { url: string; dir: string; database: string }) | null;
  redis: ProcessUsage & { url: string };
  vendors: ProcessUsage;
  loadGenerator: ProcessUsage;
  /** Every process above together, % of one core (the machine has `cores`). */
  cpuTotalAvgPct: number | null;
  kill: {
    node: string; pid: number; at: string; afterRunStartMs: number; sockets: number;
    devicesByState: Record<string, number>; abandonedSockets: number; closesByState: Record<string, number>;
  } | null;
}

export interface RunReport {
  tool: 'tidings load';
  startedAt: string;
  runId: string;
  options: Record<string, unknown>;
  target: {
    mode: 'own-server' | 'url' | 'cluster';
    url: string;
    transport: string | null;
    serverPid: number | null;
    heartbeat: { intervalMs: number; timeoutMs: number };
    serverConfig: Record<string, unknown> | null;
    dataDir: string | null;
    serverLog: string | null;
  };
  population: { users: number; devices: number; platforms: Record<string, number>; apnsDevices: number; fcmDevices: number; channels: Record<string, number>; groups: number; groupSizes: { min: number; max: number; mean: number } };
  phases: { setupMs: number; runMs: number; drainMs: number; accountingMs: number };
  activity: World['stats'];
  latency: {
    sendToAck: LatencySummary; sendToDeliver: LatencySummary; timeoutToPush: LatencySummary; pingRtt: LatencySummary;
    connect: LatencySummary; login: LatencySummary; sync: LatencySummary;
  };
  /** Send→ack and send→deliver per --latency-window of the run, each sample in the window of its send. */
  latencyWindows: LatencyWindow[];
  /** Last span of the run against the first (informational: the verdict is about loss and duplicates only). */
  historyDrift: HistoryDrift;
  histograms: { sendToAck: HistogramBucket[]; sendToDeliver: HistogramBucket[]; timeoutToPush: HistogramBucket[] };
  connections: { peakOpenSockets: number; peakLiveDevices: number; serverSessionsPeak: number | null; serverSessionsEnd: number | null };
  server: { rssPeakBytes: number | null; rssEndBytes: number | null; cpuAvgPct: number | null; sendToAck?: ServerLatency };
  client: { eventLoopDelayP99Ms: number; eventLoopDelayMaxMs: number; rssPeakBytes: number };
  errors: Record<string, number>;
  closeCodes: Record<string, number>;
  abandonedSocketCloseCodes: Record<string, number>;
  sendRejected: Record<string, number>;
  pushVendor: Record<string, unknown>;
  accounting: Omit<AccountingResult, 'push'> & { push: Omit<AccountingResult['push'], 'timeoutToPushSamples'> };
  timeline: TimelineRow[];
  /** Timelines of the devices named in the problem lists (first 50), for investigation. */
  problemDevices: Record<string, unknown>;
  notes: string[];
  verdict: string;
  cluster?: ClusterReport;
}

const n = (v: number) => v.toLocaleString('en-US');
const mb = (bytes: number | null) => (bytes === null ? '-' : `${(bytes / 1024 / 1024).toFixed(0)} MB`);

export function verdictLine(a: AccountingResult): string {
  const { lost, duplicated, unverified, pass } = a.verdict;
  if (pass) return 'VERDICT: zero loss, zero duplicates';
  if (lost === 0 && duplicated === 0) {
    return `VERDICT: INCONCLUSIVE (0 lost, 0 duplicated; ${unverified} deliveries could not be checked: messages committed after the final resync, or pushes whose outbox could not be asked in time)`;
  }
  return `VERDICT: FAILED (${lost} lost, ${duplicated} duplicated)${unverified > 0 ? `; ${unverified} deliveries unverified` : ''}`;
}

function latencyRow(label: string, s: LatencySummary): string {
  return `  ${label.padEnd(16)}${n(s.n).padStart(9)}${fmtMs(s.p50).padStart(11)}${fmtMs(s.p95).padStart(11)}${fmtMs(s.p99).padStart(11)}${fmtMs(s.max).padStart(11)}`;
}

/** The server's share of send→ack (its histogram over the run phase): same columns, no max. */
function serverSendAckLine(s: ServerLatency): string {
  const cell = (v: number | null) => (v === null ? '-' : fmtMs(v)).padStart(11);
  const missed = s.nodesMissed > 0 ? `  (${s.nodesMissed} node(s) unread)` : '';
  return `    in the server ${n(s.count).padStart(9)}${cell(s.p50Ms)}${cell(s.p95Ms)}${cell(s.p99Ms)}${'-'.padStart(11)}${missed}`;
}

const pct = (v: number | null) => (v === null ? '-' : `${v.toFixed(0)}%`);

function usageText(u: ProcessUsage): string {
  return `CPU ${pct(u.cpuAvgPct)} of a core (${u.cpuWindow === 'run' ? 'run average' : 'average over the run until killed'}), RSS peak ${mb(u.rssPeakBytes)}, ${u.cpuWindow === 'run' ? 'at end' : 'at the kill'} ${mb(u.rssEndBytes)}`;
}

/** The per-process block of a cluster run (replaces the one-server "server" line). */
export function clusterLines(c: ClusterReport): string[] {
  const lines: string[] = [];
  c.nodes.forEach((node, i) => {
    const sessions = node.sessionsPeak !== null ? `, sessions peak ${n(node.sessionsPeak)}, ${node.killed ? 'last seen' : 'at end'} ${n(node.sessionsEnd ?? 0)}` : '';
    lines.push(`${(i === 0 ? 'nodes' : '').padEnd(18)}${node.id} pid ${node.pid}${node.killed ? ' (KILLED)' : ''}: ${usageText(node)}${sessions}, connections routed ${n(node.connectionsRouted)}`);
  });
  if (c.postgres) {
    lines.push(`postgresql        pid ${c.postgres.pid} + backends (${c.postgres.processesPeak ?? '?'} processes at most): ${usageText(c.postgres)} (RSS summed over the processes; PSS peak ${mb(c.postgres.pssPeakBytes ?? null)}, at end ${mb(c.postgres.pssEndBytes ?? null)})`);
  }
  lines.push(`redis-server      pid ${c.redis.pid}: ${usageText(c.redis)}`);
  lines.push(`fake vendors      pid ${c.vendors.pid}: ${usageText(c.vendors)}`);
  lines.push(`load generator    pid ${c.loadGenerator.pid}: CPU ${pct(c.loadGenerator.cpuAvgPct)} of a core (run average)`);
  lines.push(`all processes     CPU ${pct(c.cpuTotalAvgPct)} of a core (run average) on a machine with ${c.cores} cores`);
  if (c.kill) {
    lines.push(`kill              ${c.kill.node} (pid ${c.kill.pid}) SIGKILLed ${(c.kill.afterRunStartMs / 1000).toFixed(1)} s into the run (${c.kill.at}): ${n(c.kill.sockets)} device sockets on it `
      + `(${Object.entries(c.kill.devicesByState).map(([k, v]) => `${k} ${n(v)}`).join(', ') || 'none'})`);
  }
  return lines;
}

const secs = (s: number) => `${Number(s.toFixed(1))}`;

/** One line per window, however many there are (a 20-minute run in 1-minute windows: 20 lines). */
export function windowLines(r: Pick<RunReport, 'latencyWindows' | 'options'>): string[] {
  const lines = [`send→ack by window (${String(r.options.latencyWindow)} each, by send time)`, `  ${'t'.padEnd(16)}${'n'.padStart(9)}${'p50'.padStart(11)}${'p99'.padStart(11)}`];
  for (const w of r.latencyWindows) {
    lines.push(`  ${`${secs(w.fromS)}–${secs(w.toS)}s`.padEnd(16)}${n(w.sendToAck.n).padStart(9)}${fmtMs(w.sendToAck.p50).padStart(11)}${fmtMs(w.sendToAck.p99).padStart(11)}`);
  }
  return lines;
}

const times = (v: number | null) => (v === null ? '-' : `×${v.toFixed(2)}`);

function driftSpanText(d: HistoryDrift): string {
  return d.basis === '2m' ? 'last 2m vs first 2m of the run'
    : `last third (${secs(d.last.fromS)}–${secs(d.last.toS)}s) vs first third (0–${secs(d.first.toS)}s) of the run (shorter than 4m)`;
}

function driftSeriesText(label: string, s: DriftSeries): string {
  return `${label} p50 ${times(s.p50Ratio)} (${fmtMs(s.first.p50)} → ${fmtMs(s.last.p50)}), p99 ${times(s.p99Ratio)} (${fmtMs(s.first.p99)} → ${fmtMs(s.last.p99)})`;
}

/** Percentiles of the samples sent in each span, last ÷ first. */
function driftText(d: HistoryDrift): string {
  return `${driftSpanText(d)}, by send time: ${driftSeriesText('send→ack', d.sendToAck)}; ${driftSeriesText('send→deliver', d.sendToDeliver)} (informational, not part of the verdict)`;
}

export function driftLine(d: HistoryDrift): string {
  return `cost against history  ${driftText(d)}`;
}

export function renderSummary(r: RunReport): string {
  const a = r.accounting;
  const act = r.activity;
  const p = a.push;
  const lines: string[] = [];
  const o = r.options;
  lines.push('');
  lines.push(`tidings load ${r.runId}: ${n(r.population.devices)} devices (${n(r.population.users)} users, channels ${Object.entries(r.population.channels ?? {}).filter(([k]) => k !== 'none').map(([k, v]) => `${k} ${n(v)}`).join(', ')}), `
    + `${o.duration} + drain, seed ${o.seed}, ${o.rate} msgs/device/min, ${r.population.groups} groups (${r.population.groupSizes.min}–${r.population.groupSizes.max} members)`);
  const own = r.target.mode !== 'url';
  const where = r.target.mode === 'own-server' ? `own server ${r.target.url} (pid ${r.target.serverPid}, transport ${r.target.transport}, storage ${String(r.options.dialect ?? 'sqlite')})`
    : r.target.mode === 'cluster' ? `own cluster of ${r.cluster?.nodes.length ?? '?'} nodes on PostgreSQL + redis-server (transport ${r.target.transport}; each connection to a random live node)`
      : `${r.target.url} (--url)`;
  lines.push(`target: ${where}, heartbeat ${r.target.heartbeat.intervalMs}/${r.target.heartbeat.timeoutMs} ms${own ? ', push.collapseWindowMs 0 (one push per offline message)' : ''}`);
  lines.push('');
  lines.push('activity');
  lines.push(`  messages       sent ${n(act.sent)}, acked ${n(act.acked)}, delivered ${n(act.delivered)} (live ${n(act.liveDelivered)}), resent ${n(act.resends)}, duplicate acks ${n(act.dupAcks)}${act.syncOverlaps ? `, repeated by the final resync while in flight ${n(act.syncOverlaps)} (asked for; not duplicates)` : ''}`);
  lines.push(`  calls          started ${n(act.callsStarted)}, answered ${n(act.callAnswers)}, hung up ${n(act.callEnds)}, over ${n(a.calls.finished)}/${n(a.calls.total)}`);
  lines.push(`  churn          clean closes ${n(act.closes)}, silent ${n(act.silences)} (timed out by server ${n(act.silentTimeouts)}, came back before ${n(act.silentReplaced)}), `
    + `logouts ${n(act.logouts)} (new token ${n(act.tokenRotations)}), unexpected closes ${n(act.unexpectedCloses)}`);
  lines.push(`  other          logins ${n(act.logins)}, push registrations ${n(act.registrations)}, read receipts ${n(act.reads)}, group leaves ${n(act.groupLeaves)} / rejoins ${n(act.groupJoins)}`);
  lines.push('');
  lines.push(`latency                 n        p50        p95        p99        max`);
  lines.push(latencyRow('send→ack', r.latency.sendToAck));
  if (r.server.sendToAck) lines.push(serverSendAckLine(r.server.sendToAck));
  lines.push(latencyRow('send→deliver', r.latency.sendToDeliver));
  lines.push(latencyRow('timeout→push', r.latency.timeoutToPush));
  lines.push(latencyRow('ping→pong', r.latency.pingRtt));
  lines.push(latencyRow('connect→open', r.latency.connect));
  lines.push(latencyRow('login→login_ok', r.latency.login));
  lines.push(latencyRow('sync→sync_done', r.latency.sync));
  lines.push('');
  lines.push(...windowLines(r));
  lines.push(driftLine(r.historyDrift));
  lines.push('');
  lines.push(`connections held  peak ${n(r.connections.peakOpenSockets)} open sockets, ${n(r.connections.peakLiveDevices)} live devices`
    + `${r.connections.serverSessionsPeak !== null ? `; server sessions peak ${n(r.connections.serverSessionsPeak)}, at end ${n(r.connections.serverSessionsEnd ?? 0)}` : ''}`);
  if (r.cluster) lines.push(...clusterLines(r.cluster));
  else lines.push(`server            RSS peak ${mb(r.server.rssPeakBytes)}, at end ${mb(r.server.rssEndBytes)}${r.server.cpuAvgPct !== null ? `, CPU ${r.server.cpuAvgPct.toFixed(0)}% of a core (run average)` : ''}`);
  const missed = r.timeline.filter((row) => row.connected === null).length;
  lines.push(`timeline          ${r.timeline.length} one-second samples, ${missed} missed (gaps, not zeros, in the report's charts)`);
  lines.push(`load generator    event-loop delay p99 ${fmtMs(r.client.eventLoopDelayP99Ms)}, max ${fmtMs(r.client.eventLoopDelayMaxMs)}, RSS peak ${mb(r.client.rssPeakBytes)}`);
  lines.push('');
  lines.push('accounting');
  const s = a.socket;
  lines.push(`  socket   ${n(s.messagesCommitted)} messages committed (${n(s.messagesAcked)} acked to the sender, ${n(s.committedNotAcked)} only seen in inboxes); `
    + `${n(s.expectedDeliveries)} (device, message) deliveries expected, ${n(s.deliveredOnce)} exactly once; lost ${n(s.lostCount)}, duplicated ${n(s.duplicateCount)} events (${n(s.duplicateMessages)} messages)`
    + `${s.inboxConflicts.length ? `, ${s.inboxConflicts.length} messages at two inbox seqs` : ''}`);
  if (s.unverifiedCount) lines.push(`           unverified ${n(s.unverifiedCount)}: not received, of messages the tool first heard of after the final resyncs were sent (committed after them, perhaps: the server was still working through its queue), so neither shown delivered nor shown lost`);
  if (s.lostOnUnsyncedDevices) lines.push(`           of the lost: ${n(s.lostOnUnsyncedDevices)} are on ${n(s.devicesNotFinalSynced.length)} devices that never completed the final resync (could not reconnect in time), so they are unverified rather than proven lost`);
  if (s.unackedSends) lines.push(`           ${n(s.unackedSends)} sends never acknowledged`);
  if (s.unexpectedRecipients) lines.push(`           ${n(s.unexpectedRecipients)} messages reached a user who was not a recipient`);
  if (s.unknownMembership) lines.push(`           ${n(s.unknownMembership)} group messages whose membership is unknown (not checked)`);
  if (s.devicesNotFinalSynced.length) lines.push(`           ${n(s.devicesNotFinalSynced.length)} devices did not finish the final resync (e.g. ${s.devicesNotFinalSynced.slice(0, 3).join(', ')})`);
  lines.push(`  calls    ${n(a.calls.total)} calls, ${n(a.calls.finished)} over; ${n(a.calls.expectedTerminalDeliveries)} terminal call_state deliveries expected, lost ${n(a.calls.lostCount)}`
    + `${a.calls.unfinished.length ? `; ${a.calls.unfinished.length} calls never ended` : ''}`);
  const extra = Object.entries(p.allowedExtra).map(([k, v]) => `${k} ${n(v)}`).join(', ');
  lines.push(`  push     source: ${p.source === 'fake-vendors' ? 'fake vendors (every accepted push)' : p.source === 'admin-sandbox' ? 'GET /admin/pushes (sandbox) + /admin/push-jobs' : 'GET /admin/push-jobs only'}; `
    + `${n(p.devicesWithTokens)} devices with tokens (${n(p.devicesWithFallback)} with an FCM token behind an OEM one)`);
  lines.push(`           received ${n(p.received)} (${n(p.messagePushes)} message, ${n(p.callPushes.ring)} call ring, ${n(p.callPushes.missed)} missed call); `
    + `by channel ${Object.entries(p.byVendor).map(([k, v]) => `${k} ${n(v)}`).join(', ') || 'none'}`);
  lines.push(`           expected ${n(p.expected)} message pushes (device offline, message after its ack cursor): received ${n(p.matched)}, `
    + `device back first (outbox: cancelled at login) ${n(p.cancelledByReconnect)}${p.confirmedByOutbox ? `, delivered per outbox ${n(p.confirmedByOutbox)}` : ''}`
    + `${p.triggerLate ? `, device back before the offline replay ran ${n(p.triggerLate)}` : ''}, lost ${n(p.lostCount)}`
    + `${p.uncheckedCount ? `, unverified ${n(p.uncheckedCount)} (not received, and the outbox could not be asked in time)` : ''}`);
  lines.push(`           also allowed: ${extra || 'none'}`);
  lines.push(`           duplicates ${n(p.duplicateCount)} (same device+event, different idempotency key; ${n(p.crossChannelDuplicates)} across two channels), same-id retransmits ${n(p.retransmits)}, `
    + `pushes to online/logged-out devices and other violations ${n(p.violationsCount)}${p.violationsCount ? ` ${JSON.stringify(p.violationClasses)}` : ''}`);
  for (const note of p.note) lines.push(`           note: ${note}`);
  if (Object.keys(r.errors).length) lines.push(`errors            ${Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (Object.keys(r.sendRejected).length) lines.push(`sends refused     ${Object.entries(r.sendRejected).map(([k, v]) => `${k} ${v}`).join(', ')} (group churn: expected)`);
  for (const note of r.notes) lines.push(`note: ${note}`);

  const listed: string[] = [];
  for (const l of s.lost.slice(0, 20)) listed.push(`  LOST      ${l.messageId} (${l.conversation}, event ${l.eventId}) → ${l.device}: ${l.reason}${l.seq !== null ? ` seq ${l.seq}` : ''}`);
  for (const d of s.duplicates.slice(0, 20)) listed.push(`  DUPLICATE ${d.kind} ${d.messageId ?? `event ${d.eventId}`} seq ${d.seq} → ${d.device}`);
  for (const c of s.inboxConflicts.slice(0, 10)) listed.push(`  DUPLICATE ${c.key} at seqs ${c.seqs.join(', ')} in ${c.user}'s inbox`);
  for (const l of a.calls.lost.slice(0, 10)) listed.push(`  LOST      call ${l.callId} terminal event ${l.terminalEventId} → ${l.device}: ${l.reason}`);
  for (const l of p.lost.slice(0, 20)) listed.push(`  LOST push ${l.messageId} (event ${l.eventId}) → ${l.device}: ${l.reason}${l.detail ? ` (${l.detail})` : ''}`);
  for (const d of p.duplicates.slice(0, 10)) listed.push(`  DUPLICATE push ${d.messageId} → ${d.device}: ${d.detail}`);
  for (const v of p.violations.slice(0, 10)) listed.push(`  VIOLATION push ${v.messageId} → ${v.device}: ${v.reason} at ${v.receivedAt ? new Date(v.receivedAt).toISOString() : '?'}`);
  if (listed.length) {
    lines.push('');
    lines.push('first problems (all of them in the JSON report):');
    lines.push(...listed);
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------- HTML

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function svgHistogram(title: string, buckets: HistogramBucket[], color: string): string {
  const first = buckets.findIndex((b) => b.count > 0);
  const last = buckets.length - 1 - [...buckets].reverse().findIndex((b) => b.count > 0);
  const W = 640;
  const H = 240;
  const pad = { l: 56, r: 12, t: 28, b: 52 };
  if (first < 0) return `<svg width="${W}" height="60" xmlns="http://www.w3.org/2000/svg"><text x="10" y="30" font-size="13">${esc(title)}: no samples</text></svg>`;
  const shown = buckets.slice(Math.max(0, first - 1), Math.min(buckets.length, last + 2));
  const max = Math.max(...shown.map((b) => b.count));
  const bw = (W - pad.l - pad.r) / shown.length;
  const ih = H - pad.t - pad.b;
  const bars = shown.map((b, i) => {
    const h = max > 0 ? (b.count / max) * ih : 0;
    const x = pad.l + i * bw;
    const label = Number.isFinite(b.le) ? (b.le >= 1000 ? `${b.le / 1000}s` : `${b.le}`) : '∞';
    return `<rect x="${(x + 1).toFixed(1)}" y="${(pad.t + ih - h).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>≤ ${label} ms: ${b.count}</title></rect>`
      + `<text x="${(x + bw / 2).toFixed(1)}" y="${H - pad.b + 14}" font-size="10" text-anchor="end" transform="rotate(-45 ${(x + bw / 2).toFixed(1)} ${H - pad.b + 14})">≤${label}</text>`;
  }).join('');
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" role="img">
<text x="${pad.l}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>
<line x1="${pad.l}" y1="${pad.t + ih}" x2="${W - pad.r}" y2="${pad.t + ih}" stroke="#333"/>
<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + ih}" stroke="#333"/>
<text x="${pad.l - 6}" y="${pad.t + 10}" font-size="10" text-anchor="end">${max}</text>
<text x="${pad.l - 6}" y="${pad.t + ih}" font-size="10" text-anchor="end">0</text>
<text x="${W - pad.r}" y="${H - 4}" font-size="10" text-anchor="end">latency bucket upper bound, ms (log scale)</text>
${bars}</svg>`;
}

export interface ChartMark { t: number; label: string }

/** `tEnd`: where the x axis ends, in seconds (default: the last row's index, as for the one-second timeline). */
export function svgLines<R extends { t: number }>(title: string, rows: readonly R[], series: Array<{ key: keyof R & string; label: string; color: string; dashed?: boolean }>, yLabel: string, markAt?: ChartMark | readonly ChartMark[], tEnd?: number): string {
  const marks: readonly ChartMark[] = markAt === undefined ? [] : 't' in markAt ? [markAt as ChartMark] : markAt as readonly ChartMark[];
  const W = 900;
  const H = 280;
  const pad = { l: 60, r: 150, t: 28, b: 36 };
  const values = series.flatMap((s) => rows.map((r) => Number(r[s.key] ?? 0)));
  const max = Math.max(1, ...values);
  const tMax = Math.max(1, tEnd ?? rows.length - 1);
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const x = (t: number) => pad.l + (t / tMax) * iw;
  const y = (v: number) => pad.t + ih - (v / max) * ih;
  const paths = series.map((s, i) => {
    // A second with no sample is a gap in the line, not a dip to 0.
    const runs: Array<Array<[string, string]>> = [[]];
    for (const r of rows) {
      if (r[s.key] === null || r[s.key] === undefined) {
        if (runs[runs.length - 1]!.length > 0) runs.push([]);
        continue;
      }
      runs[runs.length - 1]!.push([x(r.t).toFixed(1), y(Number(r[s.key])).toFixed(1)]);
    }
    // A point alone between two gaps would be a polyline of no length: draw it as a dot.
    const lines = runs.filter((pts) => pts.length > 0)
      .map((pts) => (pts.length === 1 ? `<circle cx="${pts[0]![0]}" cy="${pts[0]![1]}" r="2.5" fill="${s.color}"/>`
        : `<polyline fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.map((p) => p.join(',')).join(' ')}"/>`)).join('');
    return lines
      + `<rect x="${W - pad.r + 12}" y="${pad.t + i * 18}" width="12" height="3" fill="${s.color}"/><text x="${W - pad.r + 30}" y="${pad.t + i * 18 + 5}" font-size="11">${esc(s.label)}</text>`;
  }).join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${pad.l - 6}" y="${(pad.t + ih - f * ih + 4).toFixed(1)}" font-size="10" text-anchor="end">${Math.round(f * max)}</text>`
    + `<line x1="${pad.l}" x2="${pad.l + iw}" y1="${(pad.t + ih - f * ih).toFixed(1)}" y2="${(pad.t + ih - f * ih).toFixed(1)}" stroke="#eee"/>`).join('');
  const xt = Array.from({ length: 6 }, (_, i) => Math.round((i / 5) * tMax)).map((t) => `<text x="${x(t).toFixed(1)}" y="${H - pad.b + 16}" font-size="10" text-anchor="middle">${t}s</text>`).join('')
    + marks.filter((m) => m.t <= tMax).map((m, i) => `<line x1="${x(m.t).toFixed(1)}" x2="${x(m.t).toFixed(1)}" y1="${pad.t}" y2="${pad.t + ih}" stroke="#999" stroke-dasharray="4 3"/>`
      + `<text x="${(x(m.t) + 4).toFixed(1)}" y="${pad.t + 10 + i * 12}" font-size="10" fill="#666">${esc(m.label)}</text>`).join('');
  return `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" role="img">
<text x="${pad.l}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>
${ticks}
<line x1="${pad.l}" y1="${pad.t + ih}" x2="${pad.l + iw}" y2="${pad.t + ih}" stroke="#333"/>
<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + ih}" stroke="#333"/>
<text x="14" y="${pad.t + ih / 2}" font-size="10" transform="rotate(-90 14 ${pad.t + ih / 2})" text-anchor="middle">${esc(yLabel)}</text>
${xt}${paths}</svg>`;
}

function table(rows: Array<[string, string]>): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

function clusterRows(c: ClusterReport): Array<[string, string]> {
  const rows: Array<[string, string]> = c.nodes.map((node) => [`${node.id}${node.killed ? ' (killed)' : ''}`, `pid ${node.pid}: ${usageText(node)}; sessions peak ${node.sessionsPeak ?? '-'}`]);
  if (c.postgres) rows.push(['PostgreSQL', `pid ${c.postgres.pid} + backends: ${usageText(c.postgres)} (RSS summed; PSS peak ${mb(c.postgres.pssPeakBytes ?? null)})`]);
  rows.push(['redis-server', `pid ${c.redis.pid}: ${usageText(c.redis)}`]);
  rows.push(['fake vendors / load generator', `CPU ${pct(c.vendors.cpuAvgPct)} / ${pct(c.loadGenerator.cpuAvgPct)} of a core`]);
  rows.push(['all processes', `CPU ${pct(c.cpuTotalAvgPct)} of a core, ${c.cores} cores`]);
  if (c.kill) rows.push(['kill', `${c.kill.node} (pid ${c.kill.pid}) SIGKILLed ${(c.kill.afterRunStartMs / 1000).toFixed(1)} s into the run, ${c.kill.sockets} device sockets on it`]);
  return rows;
}

const PROCESS_COLORS = ['#0ea5e9', '#10b981', '#f59e0b', '#a855f7', '#ef4444', '#64748b', '#84cc16', '#ec4899', '#14b8a6'];

/** A cluster run: CPU and RSS of every process over time (from the timeline's per-process samples). */
function processCharts(r: RunReport, marks: ChartMark[]): string {
  const labels = [...new Set(r.timeline.flatMap((row) => Object.keys(row.procs ?? {})))];
  const flat = (field: 'cpuPct' | 'rssMb') => r.timeline.map((row) => ({ t: row.t, ...Object.fromEntries(labels.map((l) => [l, row.procs?.[l]?.[field] ?? null])) }) as { t: number } & Record<string, number | null>);
  const series = labels.map((label, i) => ({ key: label, label, color: PROCESS_COLORS[i % PROCESS_COLORS.length]! }));
  return `${svgLines('CPU per process (% of one core)', flat('cpuPct'), series, '%', marks)}
${svgLines('RSS per process (MB; PostgreSQL: summed over its processes)', flat('rssMb'), series, 'MB', marks)}`;
}

/** p50 and p99 per window, each window at its middle; an empty window is a gap, not a 0. */
export function windowChart(windows: readonly LatencyWindow[], endS: number): string {
  // NaN in memory, null once through JSON: either way no point.
  const at = (s: LatencySummary, p: 'p50' | 'p99') => (s.n > 0 && Number.isFinite(s[p]) ? s[p] : null);
  const rows = windows.map((w) => ({
    t: (w.fromS + w.toS) / 2,
    ackP50: at(w.sendToAck, 'p50'), ackP99: at(w.sendToAck, 'p99'), deliverP50: at(w.sendToDeliver, 'p50'), deliverP99: at(w.sendToDeliver, 'p99'),
  }));
  return svgLines('latency by window (each sample in the window of its send)', rows, [
    { key: 'ackP50', label: 'send→ack p50', color: '#3b82f6' }, { key: 'ackP99', label: 'send→ack p99', color: '#a855f7' },
    { key: 'deliverP50', label: 'send→deliver p50', color: '#10b981', dashed: true }, { key: 'deliverP99', label: 'send→deliver p99', color: '#f59e0b', dashed: true },
  ], 'ms', undefined, endS);
}

export function renderHtml(r: RunReport, summaryText: string): string {
  const a = r.accounting;
  const ok = a.verdict.pass;
  const kill = r.cluster?.kill;
  const drainMark: ChartMark[] = [{ t: Math.round(r.phases.runMs / 1000), label: 'drain' }, ...(kill ? [{ t: Math.round(kill.afterRunStartMs / 1000), label: `${kill.node} killed` }] : [])];
  const lat = (s: LatencySummary) => `n ${n(s.n)} · p50 ${fmtMs(s.p50)} · p95 ${fmtMs(s.p95)} · p99 ${fmtMs(s.p99)} · max ${fmtMs(s.max)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tidings load ${esc(r.runId)} — ${esc(r.verdict)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{font-size:18px;font-weight:bold;padding:10px 14px;border-radius:6px;display:inline-block;background:${ok ? '#e5f6e8' : '#fde8e8'};color:${ok ? '#1d6b2c' : '#9b1c1c'}}
table{border-collapse:collapse;font-size:13px} th{text-align:left;padding:3px 14px 3px 0;color:#555;font-weight:normal} td{padding:3px 0}
pre{background:#f6f6f6;padding:12px;font-size:12px;overflow-x:auto} svg{display:block;margin:12px 0}
</style></head><body>
<h1>tidings load — ${esc(r.runId)} — ${esc(r.startedAt)}</h1>
<div class="verdict">${esc(r.verdict)}</div>
<h2>Run</h2>
${table([
    ['target', r.target.mode === 'own-server' ? `own server (${r.target.url}, transport ${r.target.transport}, storage ${String(r.options.dialect ?? 'sqlite')})`
      : r.target.mode === 'cluster' ? `own cluster of ${r.cluster?.nodes.length ?? '?'} nodes (${r.target.url}, transport ${r.target.transport}) on PostgreSQL + redis-server` : `${r.target.url} (--url)`],
    ['devices / users', `${n(r.population.devices)} / ${n(r.population.users)}`],
    ['duration', `${String(r.options.duration)} (setup ${(r.phases.setupMs / 1000).toFixed(1)} s, run ${(r.phases.runMs / 1000).toFixed(1)} s, drain ${(r.phases.drainMs / 1000).toFixed(1)} s)`],
    ['seed / rate / groups', `${String(r.options.seed)} / ${String(r.options.rate)} msgs per device per minute / ${r.population.groups}`],
    ['heartbeat', `${r.target.heartbeat.intervalMs} / ${r.target.heartbeat.timeoutMs} ms`],
    ['messages', `sent ${n(r.activity.sent)}, acked ${n(r.activity.acked)}, delivered ${n(r.activity.delivered)}`],
    ['send→ack', lat(r.latency.sendToAck)],
    ['send→deliver', lat(r.latency.sendToDeliver)],
    ['timeout→push', lat(r.latency.timeoutToPush)],
    ['ping→pong (server responsiveness)', lat(r.latency.pingRtt)],
    ['cost against history', driftText(r.historyDrift)],
    ['connections held (peak)', `${n(r.connections.peakOpenSockets)} sockets${r.connections.serverSessionsPeak !== null ? `, server sessions ${n(r.connections.serverSessionsPeak)}` : ''}`],
    ...(r.cluster ? clusterRows(r.cluster) : [['server RSS', `peak ${mb(r.server.rssPeakBytes)}, end ${mb(r.server.rssEndBytes)}`] as [string, string]]),
    ['socket accounting', `${n(a.socket.expectedDeliveries)} expected, ${n(a.socket.deliveredOnce)} exactly once, lost ${n(a.socket.lostCount)}, duplicated ${n(a.socket.duplicateCount)}`],
    ['push accounting', `expected ${n(a.push.expected)}, received ${n(a.push.matched)}, cancelled by reconnect ${n(a.push.cancelledByReconnect)}, lost ${n(a.push.lostCount)}, duplicates ${n(a.push.duplicateCount)}, violations ${n(a.push.violationsCount)}`],
  ])}
<h2>Latency histograms</h2>
${svgHistogram('send → send_ack (committed)', r.histograms.sendToAck, '#3b82f6')}
${svgHistogram('send → delivered to a live recipient device', r.histograms.sendToDeliver, '#10b981')}
${svgHistogram('heartbeat deadline → first push (silent devices)', r.histograms.timeoutToPush, '#f59e0b')}
<h2>Latency over the run</h2>
${windowChart(r.latencyWindows, r.latencyWindows.at(-1)?.toS ?? 1)}
<h2>Throughput over time</h2>
${svgLines('messages per second', r.timeline, [
    { key: 'sent', label: 'sent', color: '#3b82f6' }, { key: 'acked', label: 'acked (committed)', color: '#a855f7', dashed: true },
    { key: 'pushes', label: 'pushes received', color: '#f59e0b' }, { key: 'errors', label: 'errors', color: '#ef4444' },
  ], 'per second', drainMark)}
${svgLines('deliveries per second (message events received by devices)', r.timeline, [
    { key: 'delivered', label: 'delivered', color: '#10b981' }, { key: 'logins', label: 'logins', color: '#64748b' },
  ], 'per second', drainMark)}
${svgLines('connections and server resources', r.timeline, [
    { key: 'connected', label: 'live devices', color: '#0ea5e9' }, { key: 'serverRssMb', label: r.cluster ? 'nodes\' RSS, sum (MB)' : 'server RSS (MB)', color: '#a855f7' },
    { key: 'serverCpuPct', label: r.cluster ? 'nodes\' CPU %, sum' : 'server CPU %', color: '#64748b' },
  ], 'count / MB / %', drainMark)}
${r.cluster ? processCharts(r, drainMark) : ''}
<p>${r.timeline.filter((row) => row.connected === null).length} of ${r.timeline.length} one-second samples were missed (gaps in the lines above).</p>
<h2>Summary</h2>
<pre>${esc(summaryText)}</pre>
<p>Full data: the JSON report next to this file.</p>
</body></html>
`;
}

export function writeReports(dir: string, r: RunReport, summaryText: string): { json: string; html: string } {
  const out = resolve(dir);
  mkdirSync(out, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const json = join(out, `load-${stamp}.json`);
  const html = join(out, `load-${stamp}.html`);
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(html, renderHtml(r, summaryText));
  return { json, html };
}
