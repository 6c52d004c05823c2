/**
 * Fan-out bench: one group of `members` connected members; `senders` of them each keep
 * `inflight` sends to the group pipelined. tidings: durable group messages/s (send_acks, each a
 * message committed to SQLite and fanned out on write), deliveries/s (message events received
 * across the other members), send→ack and send→deliver latency. Baseline in the same run on the
 * same transport: a raw broadcast server (tools/bench/lib/broadcast-server.ts; every frame goes to every
 * connection) with the same members, senders and window → broadcasts/s and deliveries/s.
 *
 *   node --import tsx tools/bench/fanout.ts [--transport ws|uws|both] [--members 100] [--senders 5]
 *     [--inflight 10] [--seconds 5] [--warmup 1] [--rounds 1] [--synchronous FULL|NORMAL] [--writer thread|inline]
 *     [--text-bytes 64] [--dialect sqlite|postgres] [--pg-url postgres://…] [--cpu-prof-dir /tmp/x] [--json]
 *
 * A delivery is a message frame received by a member other than its sender (members − 1 per
 * message on both servers). All clients are `ws` clients in this one process, so at high rates
 * the receiving side shares the machine with the server; client CPU is printed. `--rounds R`
 * alternates raw and tidings phases. Loopback only, bounded in count and time; nothing is
 * enforced through the exit code.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  ADMIN_SECRET, connectAll, fmt, intArg, latencyStats, measurePhase, newPhase, parseTransports, pct, PHASE_OPTIONS, phaseFlags, printTable, SECRET, startWatchdog,
  userId, WsLoadClient, type LoadOptions, type Phase,
} from './lib/peer-load.ts';
import { spawnTsChild, type ChildHandle } from './lib/spawn-child.ts';
import { uwsAvailable } from './lib/uws-import.ts';

const GROUP = 'bench-fanout';

const { values: args } = parseArgs({
  options: {
    ...PHASE_OPTIONS,
    members: { type: 'string', default: '100' },
    senders: { type: 'string', default: '5' },
    'cpu-prof-dir': { type: 'string' },
    // `postgres`: the server runs on a fresh database of the cluster at --pg-url (default TIDINGS_TEST_PG_URL).
    dialect: { type: 'string', default: 'sqlite' },
    'pg-url': { type: 'string' },
  },
  strict: true,
});

// The protocol's cap on group_create's member list; the bench's server takes the frame that carries it.
const members = intArg('members', args.members, 2, 10_000);
const senders = intArg('senders', args.senders, 1, members);
const { inflight, seconds, warmup, rounds, textBytes, synchronous, writer, load } = phaseFlags(args);
const transports = parseTransports(args.transport, await uwsAvailable());

if (args.dialect !== 'sqlite' && args.dialect !== 'postgres') throw new Error(`--dialect sqlite|postgres, not ${args.dialect}`);
const pgUrl = args['pg-url'] ?? process.env.TIDINGS_TEST_PG_URL;
if (args.dialect === 'postgres' && !pgUrl) throw new Error('--dialect postgres needs --pg-url (or TIDINGS_TEST_PG_URL); tools/ci/postgres.sh start <dir> prints one');
const storage = args.dialect === 'postgres' ? { dialect: 'postgres', url: pgUrl } : { synchronous, writer };
const storageText = args.dialect === 'postgres' ? 'dialect=postgres' : `synchronous=${synchronous}, writer=${writer}`;

const children = new Set<ChildHandle>();
const hardLimitMs = transports.length * (rounds * 2 * (warmup + seconds + 20) * 1000 + 40_000) + 20_000;
const watchdog = startWatchdog('fanout', hardLimitMs, children);

async function startChild(script: string, childArgs: string[], nodeArgs: string[], label: string): Promise<ChildHandle> {
  const child = await spawnTsChild(fileURLToPath(new URL(script, import.meta.url)), childArgs, { nodeArgs, label });
  children.add(child);
  return child;
}

async function runPhase(url: string, serverPid: number, raw: boolean, round: number, phase: Phase): Promise<void> {
  const pool = await connectAll(members, (index) => WsLoadClient.connect({
    url, index, mode: raw ? 'broadcast' : 'tidings', tag: `r${round}`, toJson: `{"group":"${GROUP}"}`, sender: index < senders, load,
  }));
  try {
    if (!raw) {
      await Promise.all(pool.map((c) => c.loginAndSync()));
      if (round === 0) {
        await pool[0]!.request({ type: 'group_create', groupId: GROUP, name: 'fan-out bench', members: pool.slice(1).map((c) => c.me) }, 'group_created');
        // Let the group_created events reach every member before the clock starts.
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    }
    await measurePhase(pool, serverPid, load, round, phase);
  } finally {
    for (const client of pool) client.close();
  }
}

async function measureTransport(transport: 'ws' | 'uws'): Promise<Record<string, unknown>> {
  const cpuProfDir = args['cpu-prof-dir'];
  const serverConfig = {
    host: '127.0.0.1', port: 0, logLevel: 'silent', transport,
    auth: { secrets: [SECRET] }, admin: { secret: ADMIN_SECRET },
    limits: { framesPerSecond: 1_000_000, frameBurst: 1_000_000, maxGroupMembers: members, maxFrameBytes: 1024 * 1024, maxConnectionsPerIp: members + 100 },
    storage,
  };
  const rawServer = await startChild('./lib/broadcast-server.ts', ['--transport', transport], [], `${transport} broadcast server`);
  const tidingsServer = await startChild('./lib/server-process.ts', ['--config', JSON.stringify(serverConfig)],
    cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [], `tidings server (${transport})`);
  const raw = newPhase();
  const tidings = newPhase();
  try {
    for (let round = 0; round < rounds; round++) {
      await runPhase(String(rawServer.ready.url), rawServer.pid, true, round, raw);
      await runPhase(String(tidingsServer.ready.url), tidingsServer.pid, false, round, tidings);
    }
  } finally {
    for (const child of [rawServer, tidingsServer]) {
      await child.stop(5000);
      children.delete(child);
    }
  }
  const measured = seconds * rounds;
  const rawMsgs = raw.completed / measured;
  const rawDeliveries = raw.delivered / measured;
  const tMsgs = tidings.completed / measured;
  const tDeliveries = tidings.delivered / measured;
  const ratio = rawDeliveries > 0 ? tDeliveries / rawDeliveries : 0;
  const rawAck = latencyStats(raw.sendLatencies);
  const rawDel = latencyStats(raw.deliverLatencies);
  const tAck = latencyStats(tidings.sendLatencies);
  const tDel = latencyStats(tidings.deliverLatencies);
  console.log(`\n[transport ${transport}]`);
  printTable([
    ['', 'group msgs/s', 'deliveries/s', 'ack p50', 'ack p99', 'deliver p50', 'deliver p99', 'client cpu', 'server cpu'],
    [`raw ${transport} broadcast`, fmt(rawMsgs, 0), fmt(rawDeliveries, 0), fmt(rawAck.p50, 1), fmt(rawAck.p99, 1), fmt(rawDel.p50, 1), fmt(rawDel.p99, 1), pct(raw.clientCpuSec, raw.wallSec), pct(raw.serverCpuSec, raw.wallSec)],
    ['tidings group send', fmt(tMsgs, 0), fmt(tDeliveries, 0), fmt(tAck.p50, 1), fmt(tAck.p99, 1), fmt(tDel.p50, 1), fmt(tDel.p99, 1), pct(tidings.clientCpuSec, tidings.wallSec), pct(tidings.serverCpuSec, tidings.wallSec)],
  ]);
  console.log(`(latencies in ms; raw "ack" = the sender's own frame back through the broadcast)`);
  console.log(`ratio tidings/raw deliveries (${transport}): ${ratio.toFixed(3)}×`);
  for (const [name, phase] of [['raw', raw], ['tidings', tidings]] as const) {
    if (phase.errorCodes.size > 0) console.log(`${name} errors: ${JSON.stringify(Object.fromEntries(phase.errorCodes))}`);
  }
  if (transport === 'uws') console.log(`issue 6 target tidings/raw uWS ≥ 0.5: ${ratio >= 0.5 ? 'PASS' : 'MISS'} (reported, not enforced)`);
  return {
    transport,
    raw: { msgsPerSec: Math.round(rawMsgs), deliveriesPerSec: Math.round(rawDeliveries), ackMs: rawAck, deliverMs: rawDel, errors: Object.fromEntries(raw.errorCodes) },
    tidings: {
      msgsPerSec: Math.round(tMsgs), deliveriesPerSec: Math.round(tDeliveries), ackMs: tAck, deliverMs: tDel, errors: Object.fromEntries(tidings.errorCodes),
      // Server CPU per delivery: what one more member costs.
      serverCpuSec: tidings.serverCpuSec ?? null, delivered: tidings.delivered, wallSec: tidings.wallSec,
    },
    ratio,
  };
}

try {
  console.log(`tools/bench/fanout: 1 group of ${members} connected members, ${senders} senders × ${inflight} in flight, ${warmup} s warm-up + ${seconds} s measured`
    + `${rounds > 1 ? ` × ${rounds} rounds (raw and tidings alternate)` : ''}, text ${textBytes} B, ${storageText}, transports ${transports.join(', ')}`);
  const results: Array<Record<string, unknown>> = [];
  for (const transport of transports) results.push(await measureTransport(transport));
  if (args.json) console.log(JSON.stringify({ bench: 'fanout', members, senders, inflight, seconds, warmup, rounds, textBytes, synchronous, transports: results }));
} catch (error) {
  console.error(`tools/bench/fanout failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const child of children) await child.stop(2000);
  clearTimeout(watchdog);
}
