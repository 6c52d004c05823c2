/**
 * `tidings load`: start (or attach to) a server, bring up N simulated devices, run the mix for
 * the duration, drain (everyone back online, final resync, outbox settled), account for every
 * message, print the summary and verdict, write the reports. Bounded in devices, time and
 * memory; loopback only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { account, type AccountingResult } from './accounting.ts';
import { cpuSecondsOf, rssOf, type Child } from '../lib/children.ts';
import { startServerChild, startVendors } from './processes.ts';
import type { LoadOptions } from './options.ts';
import { AdminApi, AdminSandboxSource, FakeVendorSource, type LoadVendor, type PushSource } from './push-source.ts';
import { renderSummary, verdictLine, writeReports, type RunReport } from './report.ts';
import { fmtMs } from './stats.ts';
import { World } from './world.ts';

const HEARTBEAT = { intervalMs: 2000, timeoutMs: 6000 };
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

interface Target {
  mode: 'own-server' | 'url';
  url: string;
  httpUrl: string;
  secret: string;
  admin: AdminApi;
  source: PushSource;
  serverPid: number | null;
  serverConfig: Record<string, unknown> | null;
  dataDir: string | null;
  serverLog: string | null;
  children: Child[];
  credentials: Partial<Record<LoadVendor, string>>;
  /** Browser subscriptions for the Web Push devices (own server only). */
  subscriptions: Array<{ endpoint: string; keys: Record<string, string> }>;
}

/** Setting names whose values are secrets or bulky PEMs: never shown in the report. */
const HIDDEN = new Set(['appSecret', 'clientSecret', 'masterSecret', 'privateKey', 'ca', 'key']);

function redacted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redacted);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, HIDDEN.has(k) && typeof v === 'string' ? `(${k}: generated)` : redacted(v)]));
}

async function startOwnTarget(opts: LoadOptions, log: (line: string) => void): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-load-'));
  const children: Child[] = [];
  try {
    log('starting fake APNs, FCM, Huawei, Honor, Xiaomi, OPPO, vivo and Web Push (child process)…');
    const vendors = await startVendors();
    children.push(vendors.child);
    const v = vendors.ready;
    const secret = randomBytes(24).toString('hex');
    const adminSecret = randomBytes(24).toString('hex');
    const serverConfig = {
      host: '127.0.0.1', port: 0, dataDir, logLevel: opts.serverLogLevel, transport: opts.transport,
      auth: { secrets: [secret] }, admin: { secret: adminSecret },
      // Short heartbeats so devices that go silent are timed out (and pushed) within the run.
      heartbeat: HEARTBEAT,
      limits: {
        maxConnectionsPerIp: opts.devices * 2 + 1000, // half-open sockets linger until replaced or timed out
        framesPerSecond: 1000, frameBurst: 2000,
      },
      push: {
        credentials: {
          ios: {
            type: 'apns', topic: v.topic, auth: { kind: 'token', key: v.apnsKey, keyId: v.keyId, teamId: v.teamId },
            endpoints: { development: v.apns, production: v.apns }, ca: v.ca,
          },
          android: { type: 'fcm', serviceAccountFile: v.serviceAccountFile, endpoint: { ...v.fcm, ca: v.ca } },
          ...v.oemCredentials,
        },
        // One push per offline message (no PAY-4 collapsing), so pushes can be accounted per message.
        collapseWindowMs: 0,
        // No startup recovery replay during the run.
        startupGraceMs: 3_600_000,
        pollMs: 100, retryBaseMs: 250, retryMaxMs: 2000,
      },
    };
    const configFile = join(dataDir, 'load-server.json');
    writeFileSync(configFile, JSON.stringify(serverConfig, null, 2), { mode: 0o600 });
    const serverLog = join(dataDir, 'server.log');
    log(`starting tidings server (child process, transport ${opts.transport}, data ${dataDir})…`);
    const server = await startServerChild(configFile, serverLog, opts.serverNodeArgs);
    children.push(server.child);
    const httpUrl = server.url.replace(/^ws/, 'http');
    const shownConfig = redacted(serverConfig) as Record<string, any>;
    shownConfig.auth.secrets = ['(random)'];
    shownConfig.admin.secret = '(random)';
    const oemNames = Object.fromEntries(Object.keys(v.oemCredentials).map((name) => [name, name])) as Partial<Record<LoadVendor, string>>;
    const subscriptions = (await (await fetch(`${v.controlUrl}/subscriptions?n=${opts.devices}`)).json() as { subscriptions: Target['subscriptions'] }).subscriptions;
    return {
      mode: 'own-server', url: server.url, httpUrl, secret, admin: new AdminApi(httpUrl, adminSecret),
      source: new FakeVendorSource(v.controlUrl), serverPid: server.child.pid, serverConfig: shownConfig,
      dataDir, serverLog, children, credentials: { apns: 'ios', fcm: 'android', ...oemNames }, subscriptions,
    };
  } catch (error) {
    for (const child of children) await child.stop(2000);
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}

async function urlTarget(opts: LoadOptions): Promise<Target> {
  const url = opts.url!;
  const httpUrl = url.replace(/^ws/, 'http');
  const admin = new AdminApi(httpUrl, opts.adminSecret!);
  await admin.check();
  const source = new AdminSandboxSource(httpUrl, opts.adminSecret!);
  await source.poll();
  source.records.length = 0; // what was there before this run is not ours
  return {
    mode: 'url', url, httpUrl, secret: opts.secret!, admin, source, serverPid: null, serverConfig: null, dataDir: null, serverLog: null,
    // Only the APNs/FCM credentials are known to exist on a server the tool did not start.
    children: [], credentials: { apns: 'ios', fcm: 'android' }, subscriptions: [],
  };
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
  const hardLimitMs = setupBudgetMs + opts.durationMs + opts.drainMs + 120_000;
  let target: Target | undefined;
  const watchdog = setTimeout(() => {
    process.stderr.write(`\ntidings load: exceeded the hard limit of ${Math.round(hardLimitMs / 1000)} s, aborting\n`);
    void Promise.all((target?.children ?? []).map((c) => c.stop(2000))).finally(() => process.exit(2));
  }, hardLimitMs);
  watchdog.unref();
  const onSignal = () => {
    process.stderr.write('\ntidings load: interrupted, stopping children\n');
    void Promise.all((target?.children ?? []).map((c) => c.stop(3000))).finally(() => {
      if (target?.dataDir && !opts.keepData) rmSync(target.dataDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  target = opts.url ? await urlTarget(opts) : await startOwnTarget(opts, status);
  const t = target;
  if (t.mode === 'url') {
    notes.push('--url: push accounting is limited to what the admin API exposes (GET /admin/pushes in sandbox mode, GET /admin/push-jobs); server RSS comes from /metrics');
    if (t.source.note) notes.push(t.source.note);
  }

  const world = new World({
    url: t.url, secret: t.secret, devices: opts.devices, rate: opts.rate, groups: opts.groups, seed: opts.seed, runId, credentials: t.credentials, subscriptions: t.subscriptions,
    faults: { dropEvent: opts.faults.dropEvent, dupSync: opts.faults.dupSync },
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
  let lastCpu: { at: number; sec: number } | undefined;
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
      if (t.serverPid !== null) {
        rss = rssOf(t.serverPid);
        const sec = cpuSecondsOf(t.serverPid);
        if (sec !== undefined) {
          if (lastCpu) cpuPct = ((sec - lastCpu.sec) / ((now - lastCpu.at) / 1000)) * 100;
          lastCpu = { at: now, sec };
        }
      } else if (sampleTick % 2 === 0) rss = await t.admin.rssBytes();
      if (rss !== undefined) {
        rssPeak = Math.max(rssPeak ?? 0, rss);
        rssEnd = rss;
      }
      if (sampleTick % 2 === 0) {
        const sessions = await t.admin.sessions();
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
      world.timeline.sample(now, { connected: c.live, ...(rss !== undefined ? { serverRssMb: Math.round(rss / 1024 / 1024) } : {}), ...(cpuPct !== null ? { serverCpuPct: Math.round(cpuPct) } : {}) });
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
    const cpuAtRunStart = t.serverPid !== null ? cpuSecondsOf(t.serverPid) : undefined;
    await sleep(opts.durationMs);
    const cpuAtRunEnd = t.serverPid !== null ? cpuSecondsOf(t.serverPid) : undefined;
    phases.runMs = Date.now() - runStart;
    const serverCpuAvg = cpuAtRunStart !== undefined && cpuAtRunEnd !== undefined ? ((cpuAtRunEnd - cpuAtRunStart) / (phases.runMs / 1000)) * 100 : null;

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
    for (const device of world.devices) {
      if (device.state !== 'live') continue;
      device.syncRef = 'F';
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
      options: { devices: opts.devices, duration: fmtDuration(opts.durationMs), drain: fmtDuration(opts.drainMs), seed: opts.seed, rate: opts.rate, groups: opts.groups, transport: opts.transport, url: opts.url ?? null },
      target: {
        mode: t.mode, url: t.url, transport: t.mode === 'own-server' ? opts.transport : null, serverPid: t.serverPid, heartbeat: world.heartbeat,
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
      histograms: { sendToAck: world.latAck.histogram(), sendToDeliver: world.latDeliver.histogram(), timeoutToPush: timeoutToPushSamples.histogram() },
      connections: { peakOpenSockets, peakLiveDevices: peakLive, serverSessionsPeak, serverSessionsEnd },
      server: { rssPeakBytes: rssPeak, rssEndBytes: rssEnd, cpuAvgPct: serverCpuAvg },
      client: { eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6, eventLoopDelayMaxMs: loopDelay.max / 1e6, rssPeakBytes: clientRssPeak },
      errors: Object.fromEntries(world.errors), closeCodes: Object.fromEntries(world.closeCodes),
      abandonedSocketCloseCodes: Object.fromEntries(world.abandonedCloseCodes), sendRejected: Object.fromEntries(world.sendRejected),
      pushVendor: vendorSummary,
      accounting: { ...result, push: pushRest },
      timeline: world.timeline.rows,
      problemDevices: problemDevices(world, result),
      notes,
      verdict: verdictLine(result),
    };
    if (report.client.eventLoopDelayMaxMs > 1000) {
      notes.push(`the load generator's event loop stalled up to ${fmtMs(report.client.eventLoopDelayMaxMs)}: latencies include that`);
    }
    exitCode = result.verdict.pass ? 0 : 1;
    const keep = opts.keepData || !result.verdict.pass;
    if (t.dataDir && keep) notes.push(`server data dir kept for investigation: ${t.dataDir} (server log: ${t.serverLog})`);
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
    for (const child of [...t.children].reverse()) await child.stop(10_000);
    if (t.dataDir && !opts.keepData && exitCode === 0) rmSync(t.dataDir, { recursive: true, force: true });
    clearTimeout(watchdog);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}
