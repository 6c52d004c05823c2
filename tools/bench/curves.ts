/**
 * Cost curves: how throughput and tail latency move as the work grows, so a reader sees the
 * shape, not one point. Two families, each point its own run in a child process:
 *
 * - against group size: tools/bench/fanout.ts with one group of N members (deliveries/s, send→
 *   deliver p99, server CPU per delivery, and the raw broadcast of the same run for the ratio);
 * - against devices: `tidings load --devices N` (the realistic mix: deliveries/s, send→ack p99,
 *   server CPU and RSS).
 *
 * Prints a table per family and writes an HTML page of SVG charts.
 *
 *   npm run bench -- --curve     (or: node --import tsx tools/bench/curves.ts)
 *     [--groups 10,100,1000,2000] [--devices 1000,2000,5000,10000] [--transport uws|ws]
 *     [--load-duration 30s] [--fanout-seconds 3] [--only groups|devices] [--out bench-results]
 *
 * Loopback only; every run is bounded (the benches and the load tool have their own limits).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { lineChart, type Series } from './lib/svg-chart.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    groups: { type: 'string', default: '10,100,1000,2000' },
    devices: { type: 'string', default: '1000,2000,5000,10000' },
    transport: { type: 'string', default: 'uws' },
    'load-duration': { type: 'string', default: '30s' },
    'fanout-seconds': { type: 'string', default: '3' },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench-results' },
  },
  strict: true,
});
const list = (text: string) => text.split(',').map((x) => Number(x.trim())).filter((n) => Number.isInteger(n) && n > 0);
const groups = list(args.groups!);
const devices = list(args.devices!);
if (args.transport !== 'uws' && args.transport !== 'ws') throw new Error('--transport uws|ws');

interface GroupPoint { members: number; deliveriesPerSec: number; rawDeliveriesPerSec: number; ratio: number; deliverP99Ms: number; cpuUsPerDelivery: number | null }
interface DevicePoint { devices: number; deliveriesPerSec: number; ackP50Ms: number; ackP99Ms: number; serverCpuPct: number | null; rssPeakMb: number | null; verdict: string }

async function groupPoint(members: number): Promise<GroupPoint> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'tools/bench/fanout.ts', '--transport', args.transport!, '--members', String(members),
    '--senders', String(Math.min(5, members)), '--seconds', args['fanout-seconds']!, '--json'], { cwd: ROOT, maxBuffer: 64 << 20, timeout: 600_000 });
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{"bench":"fanout"'));
  if (!line) throw new Error(`fanout --members ${members} printed no JSON:\n${stdout.slice(-2000)}`);
  const [result] = (JSON.parse(line) as { transports: Array<{ raw: { deliveriesPerSec: number }; tidings: { deliveriesPerSec: number; deliverMs: { p99: number }; serverCpuSec: number | null; delivered: number }; ratio: number }> }).transports;
  const t = result!.tidings;
  return {
    members, deliveriesPerSec: t.deliveriesPerSec, rawDeliveriesPerSec: result!.raw.deliveriesPerSec, ratio: result!.ratio, deliverP99Ms: t.deliverMs.p99,
    cpuUsPerDelivery: t.serverCpuSec !== null && t.delivered > 0 ? (t.serverCpuSec * 1e6) / t.delivered : null,
  };
}

async function devicePoint(n: number): Promise<DevicePoint> {
  const out = mkdtempSync(join(tmpdir(), 'tidings-curve-'));
  try {
    await run(process.execPath, ['bin/tidings.mjs', 'load', '--devices', String(n), '--duration', args['load-duration']!, '--drain', '30s',
      '--transport', args.transport!, '--out', out], { cwd: ROOT, maxBuffer: 64 << 20, timeout: 1_200_000 }).catch((error: { stdout?: string }) => {
      // A failed verdict exits 1 and still writes its report: the curve shows it.
      if (!readdirSync(out).some((f) => f.endsWith('.json'))) throw error;
    });
    const file = readdirSync(out).find((f) => f.endsWith('.json'))!;
    const r = JSON.parse(readFileSync(join(out, file), 'utf8')) as {
      phases: { runMs: number }; accounting: { socket: { deliveredOnce: number } };
      latency: { sendToAck: { p50: number; p99: number } }; server: { cpuAvgPct: number | null; rssPeakBytes: number | null }; verdict: string;
    };
    return {
      devices: n, deliveriesPerSec: Math.round(r.accounting.socket.deliveredOnce / (r.phases.runMs / 1000)),
      ackP50Ms: r.latency.sendToAck.p50, ackP99Ms: r.latency.sendToAck.p99, serverCpuPct: r.server.cpuAvgPct,
      rssPeakMb: r.server.rssPeakBytes !== null ? Math.round(r.server.rssPeakBytes / 1048576) : null, verdict: r.verdict,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const fmt = (n: number | null, digits = 0) => (n === null || !Number.isFinite(n) ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

const groupPoints: GroupPoint[] = [];
const devicePoints: DevicePoint[] = [];
if (args.only !== 'devices') {
  for (const members of groups) {
    process.stderr.write(`curves: group of ${members}…\n`);
    groupPoints.push(await groupPoint(members));
  }
  console.log(`\ncost against group size (tools/bench/fanout.ts, ${args.transport}, ${args['fanout-seconds']} s per point)`);
  console.log('members | deliveries/s | raw deliveries/s | ratio | deliver p99 ms | server µs CPU / delivery');
  for (const p of groupPoints) console.log(`${p.members} | ${fmt(p.deliveriesPerSec)} | ${fmt(p.rawDeliveriesPerSec)} | ${p.ratio.toFixed(2)}× | ${fmt(p.deliverP99Ms, 1)} | ${fmt(p.cpuUsPerDelivery, 1)}`);
}
if (args.only !== 'groups') {
  for (const n of devices) {
    process.stderr.write(`curves: tidings load --devices ${n} --duration ${args['load-duration']}…\n`);
    devicePoints.push(await devicePoint(n));
  }
  console.log(`\ncost against devices (tidings load, ${args.transport}, ${args['load-duration']} per point)`);
  console.log('devices | deliveries/s | send→ack p50 ms | send→ack p99 ms | server CPU % | server RSS peak MB | verdict');
  for (const p of devicePoints) console.log(`${p.devices} | ${fmt(p.deliveriesPerSec)} | ${fmt(p.ackP50Ms)} | ${fmt(p.ackP99Ms)} | ${fmt(p.serverCpuPct)} | ${fmt(p.rssPeakMb)} | ${p.verdict}`);
}

const charts: string[] = [];
if (groupPoints.length > 0) {
  const x = groupPoints.map((p) => p.members);
  charts.push(lineChart({ title: 'Deliveries/s against group size', xLabel: 'members', yLabel: 'deliveries/s', logX: true, x,
    series: [{ name: 'tidings', y: groupPoints.map((p) => p.deliveriesPerSec) }, { name: 'raw broadcast', y: groupPoints.map((p) => p.rawDeliveriesPerSec) }] }));
  const cost: Series[] = [{ name: 'server µs per delivery', y: groupPoints.map((p) => p.cpuUsPerDelivery ?? Number.NaN) }];
  charts.push(lineChart({ title: 'Server CPU per delivery against group size', xLabel: 'members', yLabel: 'µs', logX: true, x, series: cost }));
  charts.push(lineChart({ title: 'Send→deliver p99 against group size', xLabel: 'members', yLabel: 'ms', logX: true, x, series: [{ name: 'p99', y: groupPoints.map((p) => p.deliverP99Ms) }] }));
}
if (devicePoints.length > 0) {
  const x = devicePoints.map((p) => p.devices);
  charts.push(lineChart({ title: 'Deliveries/s against devices (load mix)', xLabel: 'devices', yLabel: 'deliveries/s', logX: true, x, series: [{ name: 'tidings', y: devicePoints.map((p) => p.deliveriesPerSec) }] }));
  charts.push(lineChart({ title: 'Send→ack against devices', xLabel: 'devices', yLabel: 'ms', logX: true, x,
    series: [{ name: 'p50', y: devicePoints.map((p) => p.ackP50Ms) }, { name: 'p99', y: devicePoints.map((p) => p.ackP99Ms) }] }));
  charts.push(lineChart({ title: 'Server CPU against devices', xLabel: 'devices', yLabel: '% of a core', logX: true, x, series: [{ name: 'CPU', y: devicePoints.map((p) => p.serverCpuPct ?? Number.NaN) }] }));
}
const outDir = resolve(ROOT, args.out!);
mkdirSync(outDir, { recursive: true });
const page = join(outDir, `curves-${new Date().toISOString().replace(/[:.]/g, '-')}.html`);
writeFileSync(page, `<!doctype html><meta charset="utf-8"><title>tidings cost curves</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}svg{margin:8px 16px 24px 0}</style>
<h1>tidings cost curves</h1><p>transport ${args.transport}; ${new Date().toISOString()}; each point one run.</p>
${charts.join('\n')}
<script type="application/json" id="data">${JSON.stringify({ groups: groupPoints, devices: devicePoints })}</script>\n`);
writeFileSync(join(outDir, 'curves-latest.json'), `${JSON.stringify({ transport: args.transport, groups: groupPoints, devices: devicePoints }, null, 2)}\n`);
console.log(`\ncharts: ${page}`);
