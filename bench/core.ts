/**
 * Core bench: durable peer-message throughput and latency for N local clients, next to a raw
 * `ws` echo baseline measured in the same run with the same clients, window and payload.
 *
 *   node --import tsx bench/core.ts [--clients 50] [--inflight 10] [--seconds 5]
 *     [--warmup 1] [--rounds 1] [--synchronous FULL|NORMAL] [--text-bytes 64] [--json]
 *     [--cpu-prof-dir /tmp/x] [--server-node-arg=--some-node-flag ...]
 *
 * Clients i and i^1 are peers; each keeps `inflight` sends pipelined. tidings' figure counts
 * `send_ack`s (each one a message committed to disk) per second; the echo figure counts echoes
 * per second. Server and baseline each run in a child process (the client load runs in this
 * one); their phases run one after the other, so they never compete for a core. `--rounds R`
 * alternates echo and tidings phases R times and sums them, which keeps the ratio honest on a
 * machine with other load. Loopback only, bounded in count and time; the target is printed,
 * never enforced through the exit code.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { mintToken } from '../server/auth/tokens.ts';
import { cpuSecondsOf, spawnTsChild, type ChildHandle } from './lib/spawn-child.ts';

const SECRET = 'bench-secret-0123456789abcdef';
const ADMIN_SECRET = 'bench-admin-0123456789abcdef';
const TARGET_RATIO = 0.3;

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    inflight: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '1' },
    synchronous: { type: 'string', default: 'FULL' },
    'text-bytes': { type: 'string', default: '64' },
    'cpu-prof-dir': { type: 'string' },
    'server-node-arg': { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (args.help) {
  console.log('usage: node --import tsx bench/core.ts [--clients N] [--inflight W] [--seconds D] [--warmup S] [--rounds R] [--synchronous FULL|NORMAL] [--text-bytes B] [--cpu-prof-dir DIR] [--server-node-arg=ARG ...] [--json]');
  process.exit(0);
}

function intArg(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer in [${min}, ${max}], got "${raw}"`);
    process.exit(2);
  }
  return n;
}

// Bounded load: at most 1000 connections, 1000 in flight each, 120 s measured.
let clients = intArg('clients', args.clients, 2, 1000);
if (clients % 2 === 1) clients += 1; // pairs
const inflight = intArg('inflight', args.inflight, 1, 1000);
const seconds = Number(args.seconds);
const warmup = Number(args.warmup);
if (!(seconds > 0 && seconds <= 120) || !(warmup >= 0 && warmup <= 30)) {
  console.error('--seconds must be in (0, 120] and --warmup in [0, 30]');
  process.exit(2);
}
const rounds = intArg('rounds', args.rounds, 1, 10);
const textBytes = intArg('text-bytes', args['text-bytes'], 24, 8192);
const synchronous = args.synchronous.toUpperCase();
if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
  console.error(`--synchronous must be FULL or NORMAL, got "${args.synchronous}"`);
  process.exit(2);
}

const children = new Set<ChildHandle>();
// Hard bound on the whole run: two phases of warm-up + measure + drain, plus start-up slack.
const hardLimitMs = rounds * 2 * (warmup + seconds + 15) * 1000 + 60_000;
const watchdog = setTimeout(() => {
  console.error(`bench/core: exceeded ${Math.round(hardLimitMs / 1000)} s, aborting`);
  // Children get SIGTERM (and SIGKILL after 2 s); the spawn helper also SIGKILLs any left on exit.
  void Promise.all([...children].map((child) => child.stop(2000))).finally(() => process.exit(1));
}, hardLimitMs);
watchdog.unref();

// ---------------------------------------------------------------------------------------------

interface Phase {
  completed: number;
  errors: number;
  errorCodes: Map<string, number>;
  sendLatencies: number[];
  deliverLatencies: number[];
  delivered: number;
  clientCpuSec: number;
  serverCpuSec: number | undefined;
  wallSec: number;
}

function newPhase(): Phase {
  return { completed: 0, errors: 0, errorCodes: new Map(), sendLatencies: [], deliverLatencies: [], delivered: 0, clientCpuSec: 0, serverCpuSec: undefined, wallSec: 0 };
}

/** Measurement window shared by every client of a phase. */
interface Window {
  from: number;
  to: number;
  /** False once the window closed: no new sends, only draining. */
  sending: boolean;
}

const PAD = 'x'.repeat(8192);

function userId(i: number): string {
  return `bench-u${i}`;
}

/**
 * A lean client on `ws`: one socket, a window of pipelined sends, cheap bookkeeping. The same
 * class drives the echo baseline (`echo: true`), where the reply to a frame is the frame itself.
 */
class LeanClient {
  readonly socket: WebSocket;
  readonly index: number;
  readonly me: string;
  readonly peer: string;
  readonly #echo: boolean;
  /** Makes clientMsgIds unique across rounds (a reconnecting client starts counting again). */
  readonly #tag: string;
  readonly #inflight = new Map<string, number>();
  #nextRef = 0;
  #phase: Phase = newPhase();
  #window: Window = { from: Infinity, to: Infinity, sending: false };
  #waiters = new Map<string, (frame: Record<string, unknown>) => void>();
  #lastSeq = 0;
  #ackedSeq = 0;
  #unacked = 0;
  #ackTimer: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;

  private constructor(socket: WebSocket, index: number, echo: boolean, tag: string) {
    this.socket = socket;
    this.index = index;
    this.me = userId(index);
    this.peer = userId(index ^ 1);
    this.#echo = echo;
    this.#tag = `${this.me}.${tag}`;
    socket.on('message', (data: Buffer) => this.#onMessage(data.toString()));
    socket.on('error', () => undefined);
  }

  static connect(url: string, index: number, echo: boolean, tag: string): Promise<LeanClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false });
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`client ${index}: connect timed out`));
      }, 10_000);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve(new LeanClient(socket, index, echo, tag));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Send a frame and wait for the reply of `type` (or an error) with the same ref. */
  request(frame: Record<string, unknown>, type: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const ref = `q${this.#nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(ref);
        reject(new Error(`${this.me}: timed out waiting for ${type}`));
      }, timeoutMs);
      this.#waiters.set(ref, (reply) => {
        clearTimeout(timer);
        if (reply.type === type) resolve(reply);
        else reject(new Error(`${this.me}: expected ${type}, got ${JSON.stringify(reply)}`));
      });
      this.socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  async loginAndSync(): Promise<void> {
    await this.request({ type: 'login', token: mintToken(SECRET, this.me, 3600), deviceId: 'd1', platform: 'android' }, 'login_ok');
    await this.request({ type: 'sync' }, 'sync_done');
  }

  start(phase: Phase, window: Window): void {
    this.#phase = phase;
    this.#window = window;
    for (let i = 0; i < inflight; i++) this.#sendOne();
  }

  /** Resolves once every send is answered (or after `timeoutMs`). */
  drain(timeoutMs: number): Promise<void> {
    if (this.#inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  get pending(): number {
    return this.#inflight.size;
  }

  #sendOne(): void {
    const n = this.#nextRef++;
    const ref = `${n}`;
    const now = performance.now();
    const stamp = now.toFixed(3);
    const text = `${stamp} ${PAD.slice(0, Math.max(1, textBytes - stamp.length - 1))}`;
    this.#inflight.set(ref, now);
    this.socket.send(`{"type":"send","ref":"${ref}","clientMsgId":"${this.#tag}.${n}","to":{"user":"${this.peer}"},"content":{"type":"text","text":"${text}"}}`);
  }

  #complete(ref: string, ok: boolean): void {
    const sentAt = this.#inflight.get(ref);
    if (sentAt === undefined) return;
    this.#inflight.delete(ref);
    const now = performance.now();
    const window = this.#window;
    if (ok && now >= window.from && now < window.to) {
      this.#phase.completed += 1;
      this.#phase.sendLatencies.push(now - sentAt);
    }
    if (window.sending && now < window.to) this.#sendOne();
    else if (this.#inflight.size === 0) this.#drained?.();
  }

  #onMessage(text: string): void {
    const frame = JSON.parse(text) as Record<string, unknown>;
    const ref = frame.ref;
    if (this.#echo) {
      if (typeof ref === 'string') this.#complete(ref, true);
      return;
    }
    switch (frame.type) {
      case 'send_ack':
        this.#complete(ref as string, true);
        return;
      case 'events':
        this.#onEvents(frame.events as Array<Record<string, unknown>>);
        return;
      case 'sync_page':
        // Backlog from an earlier round: acknowledge it, but it is not part of any measurement.
        for (const event of frame.events as Array<{ seq: number }>) if (event.seq > this.#lastSeq) this.#lastSeq = event.seq;
        this.#flushAck();
        return;
      case 'error': {
        const code = String(frame.code);
        if (typeof ref === 'string' && this.#inflight.has(ref)) {
          this.#phase.errors += 1;
          this.#phase.errorCodes.set(code, (this.#phase.errorCodes.get(code) ?? 0) + 1);
          this.#complete(ref, false);
          return;
        }
        break;
      }
      default:
        break;
    }
    if (typeof ref === 'string') {
      const waiter = this.#waiters.get(ref);
      if (waiter) {
        this.#waiters.delete(ref);
        waiter(frame);
        return;
      }
    }
    if (frame.type === 'error' || frame.type === 'kicked' || frame.type === 'reconnect') {
      const code = `${String(frame.type)}:${String(frame.code ?? frame.reason)}`;
      this.#phase.errors += 1;
      this.#phase.errorCodes.set(code, (this.#phase.errorCodes.get(code) ?? 0) + 1);
    }
  }

  #onEvents(events: Array<Record<string, unknown>>): void {
    const now = performance.now();
    const window = this.#window;
    const inWindow = now >= window.from && now < window.to;
    for (const event of events) {
      const seq = event.seq as number;
      if (seq > this.#lastSeq) this.#lastSeq = seq;
      this.#unacked += 1;
      if (event.kind !== 'message' || event.from === this.me || !inWindow) continue;
      const content = event.content as { text?: string } | undefined;
      const sentAt = Number.parseFloat(content?.text ?? '');
      if (!Number.isFinite(sentAt)) continue;
      this.#phase.delivered += 1;
      this.#phase.deliverLatencies.push(now - sentAt);
    }
    // Batched acks: every 50 events or 20 ms, whichever comes first.
    if (this.#unacked >= 50) this.#flushAck();
    else this.#ackTimer ??= setTimeout(() => this.#flushAck(), 20);
  }

  #flushAck(): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#unacked = 0;
    if (this.#lastSeq > this.#ackedSeq && this.socket.readyState === WebSocket.OPEN) {
      this.#ackedSeq = this.#lastSeq;
      this.socket.send(`{"type":"ack","seq":${this.#lastSeq}}`);
    }
  }

  close(): void {
    if (this.#ackTimer) clearTimeout(this.#ackTimer);
    this.socket.terminate();
  }
}

// ---------------------------------------------------------------------------------------------

async function runPhase(url: string, serverPid: number, echo: boolean, round: number, phase: Phase): Promise<void> {
  const pool: LeanClient[] = [];
  try {
    // Connect in modest batches so the accept queue is never the thing measured.
    for (let i = 0; i < clients; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, clients - i) }, (_, k) => LeanClient.connect(url, i + k, echo, `r${round}`)));
      pool.push(...batch);
    }
    if (!echo) await Promise.all(pool.map((c) => c.loginAndSync()));

    const start = performance.now();
    const window: Window = { from: start + warmup * 1000, to: start + (warmup + seconds) * 1000, sending: true };
    let cpuStart = process.cpuUsage();
    let serverCpuStart: number | undefined;
    let wallStart = 0;
    // Sample CPU exactly over the measured window.
    const markStart = setTimeout(() => {
      cpuStart = process.cpuUsage();
      serverCpuStart = cpuSecondsOf(serverPid);
      wallStart = performance.now();
    }, warmup * 1000);
    for (const client of pool) client.start(phase, window);
    await new Promise((resolve) => setTimeout(resolve, (warmup + seconds) * 1000 + 5));
    clearTimeout(markStart);
    window.sending = false;
    const cpu = process.cpuUsage(cpuStart);
    const serverCpuEnd = cpuSecondsOf(serverPid);
    phase.wallSec += (performance.now() - wallStart) / 1000;
    phase.clientCpuSec += (cpu.user + cpu.system) / 1e6;
    phase.serverCpuSec = serverCpuStart !== undefined && serverCpuEnd !== undefined && (round === 0 || phase.serverCpuSec !== undefined)
      ? (phase.serverCpuSec ?? 0) + serverCpuEnd - serverCpuStart : undefined;
    await Promise.all(pool.map((c) => c.drain(10_000)));
    const stuck = pool.reduce((sum, c) => sum + c.pending, 0);
    if (stuck > 0) phase.errorCodes.set('unanswered_after_drain', (phase.errorCodes.get('unanswered_after_drain') ?? 0) + stuck);
  } finally {
    for (const client of pool) client.close();
  }
}

async function startChild(script: string, childArgs: string[], nodeArgs: string[], label: string): Promise<ChildHandle> {
  const child = await spawnTsChild(fileURLToPath(new URL(script, import.meta.url)), childArgs, { nodeArgs, label });
  children.add(child);
  return child;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

function latencyStats(samples: number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = Float64Array.from(samples).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN, n: sorted.length };
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const pct = (cpuSec: number | undefined, wallSec: number) => (cpuSec === undefined || wallSec <= 0 ? '-' : `${Math.round((cpuSec / wallSec) * 100)}%`);

async function main(): Promise<void> {
  const cpuProfDir = args['cpu-prof-dir'];
  const serverNodeArgs = [...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []), ...(args['server-node-arg'] ?? [])];
  const serverConfig = {
    host: '127.0.0.1', port: 0, logLevel: 'silent',
    auth: { secrets: [SECRET] }, admin: { secret: ADMIN_SECRET },
    limits: { framesPerSecond: 1_000_000, frameBurst: 1_000_000 },
    storage: { synchronous },
  };

  console.log(`bench/core: ${clients} clients (${clients / 2} pairs), ${inflight} in flight each, ${warmup} s warm-up + ${seconds} s measured`
    + `${rounds > 1 ? ` × ${rounds} rounds (echo and tidings alternate)` : ''}, text ${textBytes} B, synchronous=${synchronous}`);

  // Both children start up front and idle while the other is measured; phases never overlap.
  const echoServer = await startChild('./lib/echo-server.ts', [], [], 'echo server');
  const tidingsServer = await startChild('./lib/server-process.ts', ['--config', JSON.stringify(serverConfig)], serverNodeArgs, 'tidings server');
  const echo = newPhase();
  const tidings = newPhase();
  for (let round = 0; round < rounds; round++) {
    await runPhase(String(echoServer.ready.url), echoServer.pid, true, round, echo);
    await runPhase(String(tidingsServer.ready.url), tidingsServer.pid, false, round, tidings);
  }

  const measured = seconds * rounds;
  const echoRate = echo.completed / measured;
  const tidingsRate = tidings.completed / measured;
  const deliverRate = tidings.delivered / measured;
  const ratio = echoRate > 0 ? tidingsRate / echoRate : 0;
  const echoLat = latencyStats(echo.sendLatencies);
  const ackLat = latencyStats(tidings.sendLatencies);
  const deliverLat = latencyStats(tidings.deliverLatencies);

  const rows: Array<[string, string, string, string, string, string, string]> = [
    ['', 'msgs/s', 'p50 ms', 'p99 ms', 'max ms', 'client cpu', 'server cpu'],
    ['raw ws echo (RTT)', fmt(echoRate, 0), fmt(echoLat.p50, 2), fmt(echoLat.p99, 2), fmt(echoLat.max, 1), pct(echo.clientCpuSec, echo.wallSec), pct(echo.serverCpuSec, echo.wallSec)],
    ['tidings send→ack', fmt(tidingsRate, 0), fmt(ackLat.p50, 2), fmt(ackLat.p99, 2), fmt(ackLat.max, 1), pct(tidings.clientCpuSec, tidings.wallSec), pct(tidings.serverCpuSec, tidings.wallSec)],
    ['tidings send→deliver', fmt(deliverRate, 0), fmt(deliverLat.p50, 2), fmt(deliverLat.p99, 2), fmt(deliverLat.max, 1), '', ''],
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const row of rows) console.log(row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  '));
  console.log(`ratio tidings/echo: ${ratio.toFixed(3)}×`);
  for (const [name, phase] of [['echo', echo], ['tidings', tidings]] as const) {
    if (phase.errorCodes.size > 0) console.log(`${name} errors: ${JSON.stringify(Object.fromEntries(phase.errorCodes))}`);
  }
  console.log(`ratio ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'PASS' : 'FAIL'}`);
  if (cpuProfDir) console.log(`server CPU profile written under ${cpuProfDir}`);

  if (args.json) {
    console.log(JSON.stringify({
      bench: 'core', clients, inflight, seconds, warmup, rounds, textBytes, synchronous,
      echo: { msgsPerSec: Math.round(echoRate), rttMs: { p50: echoLat.p50, p99: echoLat.p99, max: echoLat.max }, errors: Object.fromEntries(echo.errorCodes) },
      tidings: {
        msgsPerSec: Math.round(tidingsRate), deliveredPerSec: Math.round(deliverRate),
        ackMs: { p50: ackLat.p50, p99: ackLat.p99, max: ackLat.max }, deliverMs: { p50: deliverLat.p50, p99: deliverLat.p99, max: deliverLat.max },
        errors: Object.fromEntries(tidings.errorCodes),
      },
      ratio, target: TARGET_RATIO, pass: ratio >= TARGET_RATIO,
    }));
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench/core failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const child of children) await child.stop(2000);
  clearTimeout(watchdog);
}
