/**
 * `tidings load`: start (or attach to) a server, bring up N simulated devices, run the mix for
 * the duration, drain (everyone back online, final resync, outbox settled), account for every
 * message, print the summary and verdict, write the reports. Bounded in devices, time and
 * memory; loopback only.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RunHistogram, SEND_ACK_METRIC } from './server-metrics.ts';
import { account, BACK_ONLINE_ALLOWANCE_MS, type AccountingResult } from './accounting.ts';
import type { LoadOptions } from './options.ts';
import { renderSummary, verdictLine, writeReports, type ClusterReport, type RunReport } from './report.ts';
import { ProcessMeter, readProcess, readTree } from './resources.ts';
import { fmtMs, historyDrift, latencyWindows } from './stats.ts';
import { CLUSTER_SETTINGS, startClusterTarget, startOwnTarget, urlTarget, type Target } from './targets.ts';
import { World } from './world.ts';

const CONNECT_CONCURRENCY = 200;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function fmtDuration(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}

/** Devices per registered channel; `huawei+fcm` = an OEM token with an FCM token behind it. */
function channelMix(world: World): Record<string, number> {
  const mix: Record<string, number> = {};
  for (const d of world.devices) {
    const key = d.provider === undefined ? 'none' : d.fallback ? `${d.provider}+${d.fallback}` : d.provider;
    mix[key] = (mix[key] ?? 0) + 1;
  }
  return mix;
}

function problemDevices(world: World, a: AccountingResult): Record<string, unknown> {
  const ids = new Set<string>();
  for (const list of [a.socket.lost, a.socket.duplicates, a.calls.lost, a.push.lost, a.push.violations, a.push.duplicates]) {
    for (const item of list) {
      if (ids.size >= 50) break;
      ids.add(item.device);
    }
  }
  const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
  const out: Record<string, unknown> = {};
  for (const id of ids) {
    const d = world.devices.find((x) => x.id === id);
    if (!d) continue;
    out[id] = {
      platform: d.platform, provider: d.provider ?? null, fallback: d.fallback ?? null, tokens: d.tokens.length, state: d.state, cursor: d.cursor, lastAcked: d.lastAcked, logins: d.logins,
      spans: d.spans.map((s) => ({ ...s, from: iso(s.from), ...(s.deadline !== undefined ? { deadline: iso(s.deadline) } : {}) })),
      recentReceipts: d.recent.map(([seq, at, got, how]) => ({ seq, committed: iso(at), received: iso(got), how })),
    };
  }
  return out;
}

/** Soft limit on open files of this process (the server child inherits it), from /proc. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** What the report must say about how the kill was accounted (the rules are the same; these are their consequences). */
function killNotes(kill: NonNullable<ClusterReport['kill']>, a: AccountingResult, world: World): string[] {
  const { presenceTtlMs, sweepMs } = CLUSTER_SETTINGS;
  const byState = Object.entries(kill.devicesByState).map(([k, v]) => `${k} ${v}`).join(', ');
  const notes = [
    `kill: ${kill.node} (pid ${kill.pid}) SIGKILLed ${(kill.afterRunStartMs / 1000).toFixed(1)} s into the run (${kill.at}); ${kill.sockets} device sockets were on it (${byState || 'none'}), `
      + `plus ${kill.abandonedSockets} abandoned half-open ones. The load balancer stopped routing to it first; its devices reconnected to the others.`,
    `kill accounting: a device the kill dropped is offline from the drop (span "node_killed"), but the cluster lists it online until ${kill.node}'s presence entries expire `
      + `(presenceTtlMs ${presenceTtlMs} + sweepMs ${sweepMs}). Back before that, it was never pushed: accepted, as for any reconnect, only within BACK_ONLINE_ALLOWANCE_MS `
      + `(${BACK_ONLINE_ALLOWANCE_MS} ms), which exceeds the expiry (checked at start). Away for longer, it must have been pushed everything it had not acked, like after any drop. `
      + `RACE_MS (a push within 2 s of a re-login) is unchanged: an expiry replay racing a reconnect to another node falls under it.`,
  ];
  const unconfirmed = world.devices.filter((d) => d.spans.some((s) => s.reason === 'node_killed_logout_unconfirmed')).length;
  if (unconfirmed > 0) {
    notes.push(`kill accounting: ${unconfirmed} devices had sent logout to ${kill.node} without an answer when it died; the logout may have died with it, so they count as offline with their registration (pushes allowed and expected, as for any offline device), not as logged out`);
  }
  const after = a.push.violationsAfterKill ?? 0;
  if (after > 0) {
    notes.push(`kill accounting: ${after} push violations fell on devices the kill had dropped (e.g. pushed_after_ack: acks ${kill.node} had received but not yet written, storage.cursorFlushMs, died with it). `
      + `Violations are reported, not part of the verdict, with or without a kill.`);
  }
  if (a.push.killToPush && a.push.killToPush.n > 0) {
    notes.push(`kill → first push (devices the kill dropped that stayed away, ${a.push.devicesPushedAfterKill}): p50 ${fmtMs(a.push.killToPush.p50)}, max ${fmtMs(a.push.killToPush.max)} (presence expiry, then the replay)`);
  }
  return notes;
}

export async function runLoad(opts: LoadOptions): Promise<number> {
  const fdLimit = openFileLimit();
  // Each device holds one socket here and one in the server (plus half-open ones for a while).
  if (fdLimit !== undefined && fdLimit < opts.devices * 1.2 + 500) {
    throw new Error(`the open-file limit (ulimit -n) is ${fdLimit}, too low for ${opts.devices} devices; raise it to at least ${Math.ceil(opts.devices * 1.2 + 500)}`);
  }
  const startedAt = new Date().toISOString();
  const runId = `L${randomBytes(4).toString('hex')}`;
  const isTty = process.stderr.isTTY === true;
  const status = (line: string) => process.stderr.write(isTty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  const notes: string[] = [];

  // Hard bound on the whole run, whatever happens.
  const setupBudgetMs = 60_000 + opts.devices * 20;
  // A cluster also needs PostgreSQL (initdb), redis-server and its nodes one after another.
  const clusterStartMs = opts.cluster ? 120_000 + opts.cluster * 30_000 : 0;
  const hardLimitMs = setupBudgetMs + clusterStartMs + opts.durationMs + opts.drainMs + 120_000;
  let target: Target | undefined;
  const stopAll = async (graceMs: number) => {
    for (const child of [...(target?.children ?? [])].reverse()) await child.stop(graceMs).catch(() => undefined);
  };
  const watchdog = setTimeout(() => {
    process.stderr.write(`\ntidings load: exceeded the hard limit of ${Math.round(hardLimitMs / 1000)} s, aborting\n`);
    void stopAll(2000).finally(() => process.exit(2));
  }, hardLimitMs);
  watchdog.unref();
  const onSignal = () => {
    process.stderr.write('\ntidings load: interrupted, stopping children\n');
    void stopAll(3000).finally(() => {
      if (!opts.keepData) for (const dir of target?.tempDirs ?? []) rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  if (opts.cluster && CLUSTER_SETTINGS.presenceTtlMs + CLUSTER_SETTINGS.sweepMs >= BACK_ONLINE_ALLOWANCE_MS) {
    // A device the kill dropped that is back before the dead node's entries expire was never
    // pushed, and that is accepted only within the allowance: a shorter allowance would fail honest runs.
    throw new Error(`cluster.presenceTtlMs + sweepMs (${CLUSTER_SETTINGS.presenceTtlMs + CLUSTER_SETTINGS.sweepMs} ms) must stay below the accounting's BACK_ONLINE_ALLOWANCE_MS (${BACK_ONLINE_ALLOWANCE_MS} ms)`);
  }
  target = opts.url ? await urlTarget(opts) : opts.cluster ? await startClusterTarget(opts, status) : await startOwnTarget(opts, status);
  const t = target;
  if (t.mode === 'url') {
    notes.push('--url: push accounting is limited to what the admin API exposes (GET /admin/pushes in sandbox mode, GET /admin/push-jobs); server RSS comes from /metrics');
    if (t.source.note) notes.push(t.source.note);
  }

  const world = new World({
    target: t.picker, secret: t.secret, devices: opts.devices, rate: opts.rate, groups: opts.groups, seed: opts.seed, runId, credentials: t.credentials, subscriptions: t.subscriptions,
    faults: { dropEvent: opts.faults.dropEvent, dupSync: opts.faults.dupSync },
    latencyWindowMs: opts.latencyWindowMs, durationMs: opts.durationMs,
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  // ------------------------------------------------------------------ samplers and progress
  let peakOpenSockets = 0;
  let peakLive = 0;
  let serverSessionsPeak: number | null = null;
  let serverSessionsEnd: number | null = null;
  let rssPeak: number | null = null;
  let rssEnd: number | null = null;
  let clientRssPeak = 0;
  // One meter per tidings process the tool started; with --cluster also everything else that
  // shares the machine's cores with them.
  const nodeMeters = t.nodes.map((n) => new ProcessMeter(n.id, n.pid, readProcess(n.pid)));
  const serverSendAck = new RunHistogram(SEND_ACK_METRIC, t.nodes.length > 0 ? t.nodes.map((n) => n.httpUrl) : [t.httpUrl]);
  const pg = t.cluster?.postgres ?? t.postgres;
  const pgMeter = pg?.pid !== undefined ? new ProcessMeter('postgres', pg.pid, readTree(pg.pid)) : undefined;
  const redisMeter = t.cluster ? new ProcessMeter('redis', t.cluster.redis.pid, readTree(t.cluster.redis.pid)) : undefined;
  const vendorsMeter = t.cluster ? new ProcessMeter('vendors', t.cluster.vendorsPid, readProcess(t.cluster.vendorsPid)) : undefined;
  const selfMeter = t.cluster ? new ProcessMeter('load generator', process.pid, readProcess(process.pid)) : undefined;
  const otherMeters = [pgMeter, redisMeter, vendorsMeter, selfMeter].filter((m): m is ProcessMeter => m !== undefined);
  const otherProcs: Record<string, { cpuPct: number | null; rssMb: number | null }> = {};
  const nodeSessions = t.nodes.map(() => ({ peak: null as number | null, end: null as number | null }));
  /** Sessions over every live node (per-node numbers: the sum); undefined unless every live node answered. */
  const sessionsNow = async (): Promise<number | undefined> => {
    if (t.mode !== 'cluster') return t.admin.sessions();
    const live = t.nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.killedAt === undefined);
    const counts = await Promise.all(live.map(({ n }) => n.admin.sessions()));
    if (counts.some((c) => c === undefined)) return undefined;
    live.forEach(({ i }, k) => {
      const per = nodeSessions[i]!;
      per.peak = Math.max(per.peak ?? 0, counts[k]!);
      per.end = counts[k]!;
    });
    return counts.reduce((a, b) => a! + b!, 0);
  };
  let pushesCounted = 0;
  let sampling = false;
  let sampleTick = 0;
  const sample = async () => {
    if (sampling) return;
    sampling = true;
    try {
      const now = Date.now();
      const c = world.counts();
      peakOpenSockets = Math.max(peakOpenSockets, c.openSockets);
      peakLive = Math.max(peakLive, c.live);
      clientRssPeak = Math.max(clientRssPeak, process.memoryUsage.rss());
      let rss: number | undefined;
      let cpuPct: number | null = null;
      const procs: Record<string, { cpuPct: number | null; rssMb: number | null }> = {};
      const mb = (bytes: number | undefined) => (bytes === undefined ? null : Math.round(bytes / 1024 / 1024));
      if (nodeMeters.length > 0) {
        // The server's numbers; a cluster's are the sums over its live nodes.
        for (const meter of nodeMeters) {
          if (meter.stopped) continue;
          const r = meter.sample(now);
          if (r.rssBytes !== undefined) rss = (rss ?? 0) + r.rssBytes;
          if (r.cpuPct !== null) cpuPct = (cpuPct ?? 0) + r.cpuPct;
          if (otherMeters.length > 0) procs[meter.label] = { cpuPct: r.cpuPct === null ? null : Math.round(r.cpuPct), rssMb: mb(r.rssBytes) };
        }
        // A /proc scan for PostgreSQL's backends costs the load generator too: every other second,
        // its two-second averages standing for both seconds in the timeline.
        if (sampleTick % 2 === 0) {
          for (const meter of otherMeters) {
            const r = meter.sample(now);
            otherProcs[meter.label] = { cpuPct: r.cpuPct === null ? null : Math.round(r.cpuPct), rssMb: mb(r.rssBytes) };
          }
        }
        Object.assign(procs, otherProcs);
      } else if (sampleTick % 2 === 0) rss = await t.admin.rssBytes();
      if (rss !== undefined) {
        rssPeak = Math.max(rssPeak ?? 0, rss);
        rssEnd = rss;
      }
      if (sampleTick % 2 === 0) {
        const sessions = await sessionsNow();
        if (sessions !== undefined) {
          serverSessionsPeak = Math.max(serverSessionsPeak ?? 0, sessions);
          serverSessionsEnd = sessions;
        }
      }
      sampleTick += 1;
      try {
        await t.source.poll();
      } catch (error) {
        world.error('push_poll_failed');
        if (!notes.includes(`push poll: ${(error as Error).message}`)) notes.push(`push poll: ${(error as Error).message}`);
      }
      for (; pushesCounted < t.source.records.length; pushesCounted++) world.timeline.inc('pushes', t.source.records[pushesCounted]!.receivedAt);
      world.pushesSeen = t.source.records.length;
      world.timeline.sample(now, {
        connected: c.live, ...(rss !== undefined ? { serverRssMb: Math.round(rss / 1024 / 1024) } : {}), ...(cpuPct !== null ? { serverCpuPct: Math.round(cpuPct) } : {}),
        ...(otherMeters.length > 0 ? { procs } : {}),
      });
    } finally {
      sampling = false;
    }
  };

  let phaseLabel = 'setup';
  let runStart = 0;
  const progressLine = () => {
    const c = world.counts();
    const s = world.stats;
    const elapsed = runStart ? Math.min(opts.durationMs, Date.now() - runStart) : 0;
    const errors = [...world.errors.values()].reduce((a, b) => a + b, 0);
    const frac = runStart ? elapsed / opts.durationMs : 0;
    const bar = `${'#'.repeat(Math.round(frac * 20))}${'.'.repeat(20 - Math.round(frac * 20))}`;
    return `[${bar}] ${phaseLabel.padEnd(6)} ${(elapsed / 1000).toFixed(0).padStart(4)}/${(opts.durationMs / 1000).toFixed(0)}s `
      + `live ${c.live}/${opts.devices} (silent ${c.silent}, off ${c.offline + c.connecting + c.syncing + c.closing}) `
      + `msgs ${s.sent}/${s.acked}/${s.delivered} (sent/acked/deliv) pushes ${world.pushesSeen} errors ${errors}`;
  };
  let lastProgressLine = 0;
  const progress = () => {
    if (isTty) process.stderr.write(`\r\x1b[2K${progressLine().slice(0, Math.max(40, (process.stderr.columns || 120) - 1))}`);
    else if (Date.now() - lastProgressLine >= 5000) {
      lastProgressLine = Date.now();
      process.stderr.write(`${progressLine()}\n`);
    }
  };

  // ------------------------------------------------------------------ --kill-node-at
  let killTimer: NodeJS.Timeout | undefined;
  let kill: ClusterReport['kill'] = null;
  const killLastNode = (): ClusterReport['kill'] => {
    const index = t.nodes.length - 1;
    const node = t.nodes[index]!;
    const at = Date.now();
    // The load balancer's health check takes it out first: no new connection goes there.
    t.cluster!.balancer.remove(node.url);
    nodeMeters[index]!.beforeKill(at);
    const dropped = world.onNodeKilled(node.url, at);
    node.child.process.kill('SIGKILL');
    node.killedAt = at;
    world.timeline.mark(at, `${node.id} killed (SIGKILL)`);
    const sockets = Object.values(dropped.devicesByState).reduce((a, b) => a + b, 0);
    if (isTty) process.stderr.write('\r\x1b[2K');
    status(`killed ${node.id} (pid ${node.pid}, SIGKILL) ${((at - runStart) / 1000).toFixed(1)} s into the run: ${sockets} device sockets were on it`);
    return {
      node: node.id, pid: node.pid, at: new Date(at).toISOString(), afterRunStartMs: at - runStart, sockets,
      devicesByState: dropped.devicesByState, abandonedSockets: dropped.abandonedSockets, closesByState: dropped.closesByState,
    };
  };

  const clusterReport = (runMs: number): ClusterReport => {
    const usages = [...nodeMeters, ...otherMeters].map((m) => m.usage().cpuSec);
    return {
      cores: cpus().length,
      settings: { ...CLUSTER_SETTINGS },
      nodes: t.nodes.map((n, i) => ({
        ...nodeMeters[i]!.usage(), id: n.id, url: n.url, dataDir: n.dataDir, log: n.log, killed: n.killedAt !== undefined,
        connectionsRouted: t.cluster!.balancer.picks.get(n.url) ?? 0, sessionsPeak: nodeSessions[i]!.peak, sessionsEnd: nodeSessions[i]!.end,
      })),
      postgres: pgMeter ? { ...pgMeter.usage(), url: pg!.url, dir: pg!.dir, database: pg!.database } : null,
      redis: { ...redisMeter!.usage(), url: t.cluster!.redis.url },
      vendors: vendorsMeter!.usage(),
      loadGenerator: selfMeter!.usage(),
      cpuTotalAvgPct: usages.some((sec) => sec === null) ? null : (usages.reduce((a, b) => a! + b!, 0)! / (runMs / 1000)) * 100,
      kill,
    };
  };

  const ticker = setInterval(() => world.tick(Date.now()), 100);
  const churner = setInterval(() => world.churn(Date.now()), 1000);
  const sampler = setInterval(() => void sample(), 1000);
  const progressTimer = setInterval(progress, isTty ? 250 : 1000);
  const phases = { setupMs: 0, runMs: 0, drainMs: 0, accountingMs: 0 };
  let result: AccountingResult;
  let exitCode = 1;
  try {
    // ---------------------------------------------------------------- setup
    const setupStart = Date.now();
    status(`tidings load ${runId}: ${opts.devices} devices (${world.users.length} users), ${world.groups.size} groups, target ${t.url}`);
    let next = 0;
    const allLive = await waitFor(() => {
      while (next < world.devices.length && world.connecting < CONNECT_CONCURRENCY) {
        world.devices[next++]!.connect();
      }
      return next === world.devices.length && world.devices.every((d) => d.state === 'live');
    }, setupBudgetMs - 30_000, 20);
    if (!allLive) notes.push(`setup: only ${world.counts().live} of ${opts.devices} devices were live when the run started`);
    const groupsRequested = world.createGroups();
    await waitFor(() => world.groupCreateReplies >= groupsRequested, 30_000);
    await sleep(500);
    phases.setupMs = Date.now() - setupStart;
    if (isTty) process.stderr.write('\r\x1b[2K');
    status(`setup done in ${(phases.setupMs / 1000).toFixed(1)} s: ${world.counts().live} devices live, ${world.groupCreateReplies}/${groupsRequested} groups; running for ${fmtDuration(opts.durationMs)}`);

    // ---------------------------------------------------------------- run
    runStart = Date.now();
    phaseLabel = 'run';
    world.startRun(runStart);
    for (const meter of [...nodeMeters, ...otherMeters]) meter.markRunStart(runStart);
    await serverSendAck.markStart();
    if (opts.killNodeAtMs !== undefined) killTimer = setTimeout(() => { kill = killLastNode(); }, opts.killNodeAtMs);
    await sleep(opts.durationMs);
    const runEnd = Date.now();
    for (const meter of [...nodeMeters, ...otherMeters]) meter.markRunEnd(runEnd);
    phases.runMs = runEnd - runStart;
    const serverSendAckRun = await serverSendAck.result();
    // A cluster: every node's CPU over the run (the killed one's until the kill), as one figure.
    const nodeCpuSec = nodeMeters.map((m) => m.usage().cpuSec);
    const serverCpuAvg = nodeMeters.length === 0 || nodeCpuSec.some((sec) => sec === null) ? null
      : (nodeCpuSec.reduce((a, b) => a! + b!, 0)! / (phases.runMs / 1000)) * 100;

    // ---------------------------------------------------------------- drain
    const drainStart = Date.now();
    phaseLabel = 'drain';
    world.beginDrain(drainStart);
    const reserveMs = Math.min(12_000, opts.drainMs / 2);
    const settled = await waitFor(() => {
      world.endOpenCalls();
      const c = world.counts();
      return c.live === opts.devices && c.pendingSends === 0 && world.unfinishedCalls() === 0;
    }, opts.drainMs - reserveMs, 200);
    if (!settled) {
      const c = world.counts();
      notes.push(`drain: not settled in time (live ${c.live}/${opts.devices}, unacked sends ${c.pendingSends}, calls not over ${world.unfinishedCalls()})`);
    }
    await sleep(300);
    world.phase = 'final';
    phaseLabel = 'final';
    world.clearTimers();
    world.finalSyncAt = Date.now();
    for (const device of world.devices) {
      if (device.state !== 'live') continue;
      device.syncRef = 'F';
      device.syncAfter = device.cursor;
      device.finalSynced = false;
      device.request({ type: 'sync', ref: 'F', after: device.cursor });
    }
    await waitFor(() => world.devices.every((d) => d.finalSynced || d.state !== 'live'), Math.min(8000, reserveMs / 2), 50);
    for (const device of world.devices) device.flushAck(true);
    // The outbox settles: nothing pending or being sent, and the vendors saw nothing new.
    let stable = 0;
    let lastRecords = -1;
    const settleEnd = Date.now() + Math.max(3000, drainStart + opts.drainMs - Date.now());
    while (Date.now() < settleEnd && stable < 2) {
      await sleep(500);
      let busy = 0;
      try {
        busy = (await t.admin.jobs({ state: 'pending', limit: 1000 })).length + (await t.admin.jobs({ state: 'sending', limit: 1000 })).length;
      } catch {
        busy = 0;
      }
      await t.source.poll().catch(() => undefined);
      stable = busy === 0 && t.source.records.length === lastRecords ? stable + 1 : 0;
      lastRecords = t.source.records.length;
    }
    if (stable < 2) notes.push('drain: the push outbox did not settle in time');
    phases.drainMs = Date.now() - drainStart;
    // The ticker keeps the devices' heartbeats going while the tool accounts: without them the
    // server drops every device after heartbeat.timeoutMs and replays pushes under the accounting.
    clearInterval(churner);
    clearInterval(sampler);
    clearInterval(progressTimer);
    await sample();
    if (isTty) process.stderr.write('\r\x1b[2K');
    status(`drained in ${(phases.drainMs / 1000).toFixed(1)} s; accounting…`);

    // ---------------------------------------------------------------- accounting
    if (opts.faults.dropPush > 0 || opts.faults.dupPush > 0) {
      const records = t.source.records;
      const kept = [];
      for (const r of records) {
        if (r.messageId && world.faultRng.chance(opts.faults.dropPush)) {
          world.injected.dropPush += 1;
          continue;
        }
        kept.push(r);
        if (r.messageId && world.faultRng.chance(opts.faults.dupPush)) {
          world.injected.dupPush += 1;
          kept.push({ ...r, apnsId: `${r.apnsId.slice(0, -4)}dup0`, receivedAt: r.receivedAt + 1 });
        }
      }
      records.length = 0;
      records.push(...kept);
    }
    if (Object.values(opts.faults).some((p) => p > 0)) notes.push(`SELF-TEST: faults injected by this tool: ${JSON.stringify(world.injected)}`);
    const accountingStart = Date.now();
    result = await account({
      world, source: t.source, finalTime: Date.now(),
      outbox: (user, device) => t.admin.jobs({ user, device, limit: 1000 }),
    });
    phases.accountingMs = Date.now() - accountingStart;

    world.phase = 'done';
    clearInterval(ticker);
    for (const device of world.devices) device.conn?.ws.terminate();
    for (const conn of world.abandoned) conn.ws.terminate();
    let vendorSummary: Record<string, unknown> = {};
    try {
      vendorSummary = await t.source.summary();
    } catch {
      /* best effort */
    }
    loopDelay.disable();

    // ---------------------------------------------------------------- report
    const platforms: Record<string, number> = {};
    for (const d of world.devices) platforms[d.platform] = (platforms[d.platform] ?? 0) + 1;
    const sizes = [...world.groups.values()].map((g) => g.size);
    const { timeoutToPushSamples, ...pushRest } = result.push;
    const report: RunReport = {
      tool: 'tidings load', startedAt, runId,
      options: {
        devices: opts.devices, duration: fmtDuration(opts.durationMs), drain: fmtDuration(opts.drainMs), seed: opts.seed, rate: opts.rate, groups: opts.groups, transport: opts.transport, url: opts.url ?? null,
        latencyWindow: fmtDuration(opts.latencyWindowMs),
        ...(opts.url ? {} : { dialect: opts.dialect }),
        ...(opts.cluster ? { cluster: opts.cluster, killNodeAt: opts.killNodeAtMs !== undefined ? fmtDuration(opts.killNodeAtMs) : null } : {}),
      },
      target: {
        mode: t.mode, url: t.url, transport: t.mode !== 'url' ? opts.transport : null, serverPid: t.serverPid, heartbeat: world.heartbeat,
        serverConfig: t.serverConfig, dataDir: t.dataDir, serverLog: t.serverLog,
      },
      population: {
        users: world.users.length, devices: world.devices.length, platforms,
        apnsDevices: world.devices.filter((d) => d.provider === 'apns').length, fcmDevices: world.devices.filter((d) => d.provider === 'fcm').length,
        channels: channelMix(world),
        groups: world.groups.size,
        groupSizes: { min: sizes.length ? Math.min(...sizes) : 0, max: sizes.length ? Math.max(...sizes) : 0, mean: sizes.length ? Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length) : 0 },
      },
      phases,
      activity: { ...world.stats },
      latency: { sendToAck: world.latAck.summary(), sendToDeliver: world.latDeliver.summary(), timeoutToPush: result.push.timeoutToPush, pingRtt: world.latPing.summary(),
        connect: world.latConnect.summary(), login: world.latLogin.summary(), sync: world.latSync.summary() },
      latencyWindows: latencyWindows(world.windowsAck, world.windowsDeliver),
      historyDrift: historyDrift(world.windowsAck, world.windowsDeliver),
      histograms: { sendToAck: world.latAck.histogram(), sendToDeliver: world.latDeliver.histogram(), timeoutToPush: timeoutToPushSamples.histogram() },
      connections: { peakOpenSockets, peakLiveDevices: peakLive, serverSessionsPeak, serverSessionsEnd },
      server: { rssPeakBytes: rssPeak, rssEndBytes: rssEnd, cpuAvgPct: serverCpuAvg, sendToAck: serverSendAckRun },
      client: { eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6, eventLoopDelayMaxMs: loopDelay.max / 1e6, rssPeakBytes: clientRssPeak },
      errors: Object.fromEntries(world.errors), closeCodes: Object.fromEntries(world.closeCodes),
      abandonedSocketCloseCodes: Object.fromEntries(world.abandonedCloseCodes), sendRejected: Object.fromEntries(world.sendRejected),
      pushVendor: vendorSummary,
      accounting: { ...result, push: pushRest },
      timeline: world.timeline.rows,
      problemDevices: problemDevices(world, result),
      notes,
      verdict: verdictLine(result),
      ...(t.cluster ? { cluster: clusterReport(phases.runMs) } : {}),
    };
    if (kill) notes.push(...killNotes(kill, result, world));
    if (t.postgres && pgMeter) {
      const u = pgMeter.usage();
      notes.push(`PostgreSQL (every process of its cluster, beside the server): CPU ${u.cpuAvgPct === null ? 'n/a' : `${Math.round(u.cpuAvgPct)} %`} of a core over the run, RSS peak ${u.rssPeakBytes === null ? 'n/a' : `${Math.round(u.rssPeakBytes / 1024 / 1024)} MB`}`);
    }
    if (report.client.eventLoopDelayMaxMs > 1000) {
      notes.push(`the load generator's event loop stalled up to ${fmtMs(report.client.eventLoopDelayMaxMs)}: latencies include that`);
    }
    exitCode = result.verdict.pass ? 0 : 1;
    const keep = opts.keepData || !result.verdict.pass;
    if (t.dataDir && keep) notes.push(`server data dir kept for investigation: ${t.dataDir} (server log: ${t.serverLog})`);
    if (pg && keep) notes.push(`PostgreSQL cluster kept (stopped) for investigation: ${pg.dir} (start it again with tools/ci/postgres.sh start ${pg.dir}; database ${pg.database})`);
    const summary = renderSummary(report);
    let files: { json: string; html: string } | undefined;
    try {
      files = writeReports(opts.out, report, summary);
    } catch (error) {
      notes.push(`could not write the reports: ${(error as Error).message}`);
    }
    process.stdout.write(`${summary}\n`);
    if (files) process.stdout.write(`\nreport: ${files.json}\n        ${files.html}\n`);
    process.stdout.write(`\n${report.verdict}\n`);
  } finally {
    clearInterval(ticker);
    clearInterval(churner);
    clearInterval(sampler);
    clearInterval(progressTimer);
    world.clearTimers();
    world.phase = 'done';
    for (const device of world.devices) device.conn?.ws.terminate();
    for (const conn of world.abandoned) conn.ws.terminate();
    if (killTimer) clearTimeout(killTimer);
    for (const child of [...t.children].reverse()) await child.stop(10_000);
    if (!opts.keepData && exitCode === 0) for (const dir of t.tempDirs) rmSync(dir, { recursive: true, force: true });
    clearTimeout(watchdog);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}
