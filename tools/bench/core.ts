/**
 * Core bench: durable peer-message throughput and latency for N local clients, next to a raw
 * echo baseline on the same transport, measured in the same run with the same clients, window
 * and payload.
 *
 *   node --import tsx tools/bench/core.ts [--transport ws|uws|both] [--clients 50] [--inflight 10]
 *     [--seconds 5] [--warmup 1] [--rounds 1] [--synchronous FULL|NORMAL] [--writer thread|inline] [--text-bytes 64]
 *     [--dialect sqlite|postgres] [--pg-url postgres://…]
 *     [--json] [--cpu-prof-dir /tmp/x] [--server-node-arg=--some-node-flag ...]
 *
 * `--transport` (default `both` when uWebSockets.js loads, else `ws`) selects the server's
 * WebSocket library: for `ws` the baseline is a raw `ws` echo server (tools/bench/lib/echo-server.ts),
 * for `uws` a raw uWebSockets.js echo server (tools/bench/lib/uws-echo-server.ts). The clients are
 * always `ws` clients in this process.
 *
 * Clients i and i^1 are peers; each keeps `inflight` sends pipelined. tidings' figure counts
 * `send_ack`s (each one a message committed to disk) per second; the echo figure counts echoes
 * per second. Server and baseline each run in a child process (the client load runs in this
 * one); their phases run one after the other, so they never compete for a core. `--rounds R`
 * alternates echo and tidings phases R times and sums them, which keeps the ratio honest on a
 * machine with other load. Loopback only, bounded in count and time; the target is printed,
 * never enforced through the exit code.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ADMIN_SECRET, connectAll, fmt, intArg, latencyStats, measurePhase, newPhase, parseTransports, pct, PHASE_OPTIONS, phaseFlags, printTable, SECRET, startWatchdog,
  userId, WsLoadClient, type LoadOptions, type Phase,
} from './lib/peer-load.ts';
import { spawnTsChild, type ChildHandle } from './lib/spawn-child.ts';
import { uwsAvailable } from './lib/uws-import.ts';

const TARGET_RATIO = 0.3;

const { values: args } = parseArgs({
  options: {
    ...PHASE_OPTIONS,
    clients: { type: 'string', default: '50' },
    'cpu-prof-dir': { type: 'string' },
    // `postgres`: the server runs on a fresh database of the cluster at --pg-url (default TIDINGS_TEST_PG_URL).
    dialect: { type: 'string', default: 'sqlite' },
    'pg-url': { type: 'string' },
    'server-node-arg': { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (args.help) {
  console.log('usage: node --import tsx tools/bench/core.ts [--transport ws|uws|both] [--clients N] [--inflight W] [--seconds D] [--warmup S] [--rounds R] [--synchronous FULL|NORMAL] [--writer thread|inline] [--dialect sqlite|postgres] [--pg-url URL] [--text-bytes B] [--cpu-prof-dir DIR] [--server-node-arg=ARG ...] [--json]');
  process.exit(0);
}

// Bounded load: at most 1000 connections, 1000 in flight each, 120 s measured.
let clients = intArg('clients', args.clients, 2, 1000);
if (clients % 2 === 1) clients += 1; // pairs
const { inflight, seconds, warmup, rounds, textBytes, synchronous, writer, load } = phaseFlags(args);
const transports = parseTransports(args.transport, await uwsAvailable());

if (args.dialect !== 'sqlite' && args.dialect !== 'postgres') throw new Error(`--dialect sqlite|postgres, not ${args.dialect}`);
const pgUrl = args['pg-url'] ?? process.env.TIDINGS_TEST_PG_URL;
if (args.dialect === 'postgres' && !pgUrl) throw new Error('--dialect postgres needs --pg-url (or TIDINGS_TEST_PG_URL); tools/ci/postgres.sh start <dir> prints one');
const storage = args.dialect === 'postgres' ? { dialect: 'postgres', url: pgUrl } : { synchronous, writer };
const storageText = args.dialect === 'postgres' ? 'dialect=postgres' : `synchronous=${synchronous}, writer=${writer}`;

const children = new Set<ChildHandle>();
// Hard bound on the whole run: per transport two phases of warm-up + measure + drain, plus start-up slack.
const hardLimitMs = transports.length * (rounds * 2 * (warmup + seconds + 15) * 1000 + 40_000) + 20_000;
const watchdog = startWatchdog('core', hardLimitMs, children);

async function runPhase(url: string, serverPid: number, echo: boolean, round: number, phase: Phase): Promise<void> {
  const pool = await connectAll(clients, (index) => WsLoadClient.connect({
    url, index, mode: echo ? 'echo' : 'tidings', tag: `r${round}`, toJson: `{"user":"${userId(index ^ 1)}"}`, sender: true, load,
  }));
  try {
    if (!echo) await Promise.all(pool.map((c) => c.loginAndSync()));
    await measurePhase(pool, serverPid, load, round, phase);
  } finally {
    for (const client of pool) client.close();
  }
}

async function startChild(script: string, childArgs: string[], nodeArgs: string[], label: string): Promise<ChildHandle> {
  const child = await spawnTsChild(fileURLToPath(new URL(script, import.meta.url)), childArgs, { nodeArgs, label });
  children.add(child);
  return child;
}

async function stopChild(child: ChildHandle): Promise<void> {
  await child.stop(5000);
  children.delete(child);
}

async function measureTransport(transport: 'ws' | 'uws'): Promise<Record<string, unknown>> {
  const cpuProfDir = args['cpu-prof-dir'];
  const serverNodeArgs = [...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []), ...(args['server-node-arg'] ?? [])];
  const serverConfig = {
    host: '127.0.0.1', port: 0, logLevel: 'silent', transport,
    auth: { secrets: [SECRET] }, admin: { secret: ADMIN_SECRET },
    limits: { framesPerSecond: 1_000_000, frameBurst: 1_000_000 },
    storage,
  };
  // Both children start up front and idle while the other is measured; phases never overlap.
  const echoServer = await startChild(transport === 'uws' ? './lib/uws-echo-server.ts' : './lib/echo-server.ts', [], [], `${transport} echo server`);
  const tidingsServer = await startChild('./lib/server-process.ts', ['--config', JSON.stringify(serverConfig)], serverNodeArgs, `tidings server (${transport})`);
  const echo = newPhase();
  const tidings = newPhase();
  try {
    for (let round = 0; round < rounds; round++) {
      await runPhase(String(echoServer.ready.url), echoServer.pid, true, round, echo);
      await runPhase(String(tidingsServer.ready.url), tidingsServer.pid, false, round, tidings);
    }
  } finally {
    await stopChild(echoServer);
    await stopChild(tidingsServer);
  }

  const measured = seconds * rounds;
  const echoRate = echo.completed / measured;
  const tidingsRate = tidings.completed / measured;
  const deliverRate = tidings.delivered / measured;
  const ratio = echoRate > 0 ? tidingsRate / echoRate : 0;
  const echoLat = latencyStats(echo.sendLatencies);
  const ackLat = latencyStats(tidings.sendLatencies);
  const deliverLat = latencyStats(tidings.deliverLatencies);

  console.log(`\n[transport ${transport}]`);
  printTable([
    ['', 'msgs/s', 'p50 ms', 'p99 ms', 'max ms', 'client cpu', 'server cpu'],
    [`raw ${transport} echo (RTT)`, fmt(echoRate, 0), fmt(echoLat.p50, 2), fmt(echoLat.p99, 2), fmt(echoLat.max, 1), pct(echo.clientCpuSec, echo.wallSec), pct(echo.serverCpuSec, echo.wallSec)],
    ['tidings send→ack', fmt(tidingsRate, 0), fmt(ackLat.p50, 2), fmt(ackLat.p99, 2), fmt(ackLat.max, 1), pct(tidings.clientCpuSec, tidings.wallSec), pct(tidings.serverCpuSec, tidings.wallSec)],
    ['tidings send→deliver', fmt(deliverRate, 0), fmt(deliverLat.p50, 2), fmt(deliverLat.p99, 2), fmt(deliverLat.max, 1), '', ''],
  ]);
  console.log(`ratio tidings/echo (${transport}): ${ratio.toFixed(3)}×  (tidings ${fmt(tidingsRate, 0)} msgs/s ÷ raw echo ${fmt(echoRate, 0)} msgs/s)`);
  for (const [name, phase] of [['echo', echo], ['tidings', tidings]] as const) {
    if (phase.errorCodes.size > 0) console.log(`${name} errors: ${JSON.stringify(Object.fromEntries(phase.errorCodes))}`);
  }
  console.log(`ratio ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'PASS' : 'FAIL'}`);
  return {
    transport,
    echo: { msgsPerSec: Math.round(echoRate), rttMs: { p50: echoLat.p50, p99: echoLat.p99, max: echoLat.max }, errors: Object.fromEntries(echo.errorCodes) },
    tidings: {
      msgsPerSec: Math.round(tidingsRate), deliveredPerSec: Math.round(deliverRate),
      ackMs: { p50: ackLat.p50, p99: ackLat.p99, max: ackLat.max }, deliverMs: { p50: deliverLat.p50, p99: deliverLat.p99, max: deliverLat.max },
      errors: Object.fromEntries(tidings.errorCodes),
    },
    ratio, target: TARGET_RATIO, pass: ratio >= TARGET_RATIO,
  };
}

async function main(): Promise<void> {
  console.log(`tools/bench/core: ${clients} clients (${clients / 2} pairs), ${inflight} in flight each, ${warmup} s warm-up + ${seconds} s measured`
    + `${rounds > 1 ? ` × ${rounds} rounds (echo and tidings alternate)` : ''}, text ${textBytes} B, ${storageText}, transports ${transports.join(', ')}`);
  const results: Array<Record<string, unknown>> = [];
  for (const transport of transports) results.push(await measureTransport(transport));
  if (args['cpu-prof-dir']) console.log(`server CPU profiles written under ${args['cpu-prof-dir']}`);
  if (args.json) console.log(JSON.stringify({ bench: 'core', clients, inflight, seconds, warmup, rounds, textBytes, synchronous, transports: results }));
}

try {
  await main();
} catch (error) {
  console.error(`tools/bench/core failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const child of children) await child.stop(2000);
  clearTimeout(watchdog);
}
