/**
 * Socket.IO comparison (issue 6 (b)): the core peer workload — N clients in pairs, each keeping
 * `inflight` sends to its peer pipelined, warm-up + `seconds` measured — against a minimal
 * Socket.IO chat server (tools/bench/lib/socketio-chat-server.ts: per-user rooms, `socket.to(room).emit`,
 * ack callback; in memory, NOT durable) and against tidings on each transport (durable: every
 * send_ack is a message committed to SQLite). Socket.IO clients use `transports: ['websocket']`
 * (no long-polling), which is Socket.IO's fastest setting.
 *
 *   node --import tsx tools/bench/socketio.ts [--transport ws|uws|both] [--clients 50] [--inflight 10]
 *     [--seconds 5] [--warmup 1] [--rounds 1] [--synchronous FULL|NORMAL] [--writer thread|inline] [--text-bytes 64] [--json]
 *
 * msgs/s = acks/s (Socket.IO ack callbacks; tidings send_acks). `--rounds R` alternates the
 * servers' phases R times. Target (issue 6, reported only): tidings on uWS ≥ 3× Socket.IO.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { io as ioClient, type Socket } from 'socket.io-client';
import {
  ADMIN_SECRET, connectAll, fmt, intArg, latencyStats, measurePhase, newPhase, parseTransports, pct, PHASE_OPTIONS, phaseFlags, printTable, SECRET, startWatchdog,
  stampedText, userId, WsLoadClient, type LoadClient, type LoadOptions, type Phase, type Window,
} from './lib/peer-load.ts';
import { spawnTsChild, type ChildHandle } from './lib/spawn-child.ts';
import { uwsAvailable } from './lib/uws-import.ts';

const TARGET = 3;

const { values: args } = parseArgs({
  options: {
    ...PHASE_OPTIONS,
    clients: { type: 'string', default: '50' },
  },
  strict: true,
});
let clients = intArg('clients', args.clients, 2, 1000);
if (clients % 2 === 1) clients += 1;
const { inflight, seconds, warmup, rounds, textBytes, synchronous, writer, load } = phaseFlags(args);
const transports = parseTransports(args.transport, await uwsAvailable());

const children = new Set<ChildHandle>();
const hardLimitMs = rounds * (1 + transports.length) * (warmup + seconds + 15) * 1000 + 60_000;
const watchdog = startWatchdog('socketio', hardLimitMs, children);

/** A Socket.IO client with a window of pipelined `send` emits, each completed by its ack callback. */
class SocketIoClient implements LoadClient {
  readonly #socket: Socket;
  readonly #peer: string;
  readonly #tag: string;
  #n = 0;
  #pending = 0;
  #phase: Phase = newPhase();
  #window: Window = { from: Infinity, to: Infinity, sending: false };
  #drained: (() => void) | undefined;

  private constructor(socket: Socket, index: number, round: number) {
    this.#socket = socket;
    this.#peer = userId(index ^ 1);
    this.#tag = `${userId(index)}.r${round}`;
    socket.on('message', (msg: { content?: { text?: string } }) => {
      const now = performance.now();
      if (now < this.#window.from || now >= this.#window.to) return;
      const sentAt = Number.parseFloat(msg.content?.text ?? '');
      if (!Number.isFinite(sentAt)) return;
      this.#phase.delivered += 1;
      this.#phase.deliverLatencies.push(now - sentAt);
    });
  }

  static connect(url: string, index: number, round: number): Promise<SocketIoClient> {
    return new Promise((resolve, reject) => {
      const socket = ioClient(url, { transports: ['websocket'], auth: { user: userId(index) }, reconnection: false, forceNew: true });
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error(`socket.io client ${index}: connect timed out`));
      }, 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new SocketIoClient(socket, index, round));
      });
      socket.once('connect_error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  start(phase: Phase, window: Window): void {
    this.#phase = phase;
    this.#window = window;
    for (let i = 0; i < inflight; i++) this.#sendOne();
  }

  #sendOne(): void {
    const sentAt = performance.now();
    this.#pending += 1;
    this.#socket.emit('send', { to: { user: this.#peer }, clientMsgId: `${this.#tag}.${this.#n++}`, content: { type: 'text', text: stampedText(sentAt, textBytes) } }, () => {
      this.#pending -= 1;
      const now = performance.now();
      const window = this.#window;
      if (now >= window.from && now < window.to) {
        this.#phase.completed += 1;
        this.#phase.sendLatencies.push(now - sentAt);
      }
      if (window.sending && now < window.to) this.#sendOne();
      else if (this.#pending === 0) this.#drained?.();
    });
  }

  drain(timeoutMs: number): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  get pending(): number {
    return this.#pending;
  }

  close(): void {
    this.#socket.close();
  }
}

async function startChild(script: string, childArgs: string[], label: string): Promise<ChildHandle> {
  const child = await spawnTsChild(fileURLToPath(new URL(script, import.meta.url)), childArgs, { label });
  children.add(child);
  return child;
}

async function socketIoPhase(server: ChildHandle, round: number, phase: Phase): Promise<void> {
  const pool = await connectAll(clients, (index) => SocketIoClient.connect(String(server.ready.url), index, round));
  try {
    await measurePhase(pool, server.pid, load, round, phase);
  } finally {
    for (const client of pool) client.close();
  }
}

async function tidingsPhase(server: ChildHandle, round: number, phase: Phase): Promise<void> {
  const url = String(server.ready.url);
  const pool = await connectAll(clients, (index) => WsLoadClient.connect({
    url, index, mode: 'tidings', tag: `r${round}`, toJson: `{"user":"${userId(index ^ 1)}"}`, sender: true, load,
  }));
  try {
    await Promise.all(pool.map((c) => c.loginAndSync()));
    await measurePhase(pool, server.pid, load, round, phase);
  } finally {
    for (const client of pool) client.close();
  }
}

try {
  console.log(`tools/bench/socketio: ${clients} clients (${clients / 2} pairs), ${inflight} in flight each, ${warmup} s warm-up + ${seconds} s measured`
    + `${rounds > 1 ? ` × ${rounds} rounds (phases alternate)` : ''}, text ${textBytes} B, tidings synchronous=${synchronous}, writer=${writer}, tidings transports ${transports.join(', ')}`);
  const sioServer = await startChild('./lib/socketio-chat-server.ts', [], 'socket.io chat server');
  const tidingsServers = new Map<string, ChildHandle>();
  for (const transport of transports) {
    tidingsServers.set(transport, await startChild('./lib/server-process.ts', ['--config', JSON.stringify({
      host: '127.0.0.1', port: 0, logLevel: 'silent', transport,
      auth: { secrets: [SECRET] }, admin: { secret: ADMIN_SECRET },
      limits: { framesPerSecond: 1_000_000, frameBurst: 1_000_000 }, storage: { synchronous, writer },
    })], `tidings server (${transport})`));
  }
  const sio = newPhase();
  const tidings = new Map(transports.map((t) => [t, newPhase()]));
  for (let round = 0; round < rounds; round++) {
    await socketIoPhase(sioServer, round, sio);
    for (const transport of transports) await tidingsPhase(tidingsServers.get(transport)!, round, tidings.get(transport)!);
  }
  const measured = seconds * rounds;
  const sioRate = sio.completed / measured;
  const row = (name: string, phase: Phase): string[] => {
    const ack = latencyStats(phase.sendLatencies);
    const del = latencyStats(phase.deliverLatencies);
    return [name, fmt(phase.completed / measured, 0), fmt(phase.delivered / measured, 0), fmt(ack.p50, 2), fmt(ack.p99, 2), fmt(del.p50, 2), fmt(del.p99, 2), pct(phase.clientCpuSec, phase.wallSec), pct(phase.serverCpuSec, phase.wallSec)];
  };
  printTable([
    ['', 'msgs/s (acks)', 'delivered/s', 'ack p50', 'ack p99', 'deliver p50', 'deliver p99', 'client cpu', 'server cpu'],
    row('socket.io chat (in memory)', sio),
    ...transports.map((t) => row(`tidings ${t} (durable)`, tidings.get(t)!)),
  ]);
  console.log('(latencies in ms)');
  const ratios: Record<string, number> = {};
  for (const t of transports) {
    const ratio = sioRate > 0 ? tidings.get(t)!.completed / measured / sioRate : 0;
    ratios[t] = ratio;
    console.log(`ratio tidings ${t} / socket.io: ${ratio.toFixed(2)}×${t === 'uws' ? `  (issue 6 target ≥ ${TARGET}×: ${ratio >= TARGET ? 'PASS' : 'MISS'}, reported, not enforced)` : ''}`);
  }
  for (const [name, phase] of [['socket.io', sio], ...transports.map((t) => [`tidings ${t}`, tidings.get(t)!] as const)] as const) {
    if (phase.errorCodes.size > 0) console.log(`${name} errors: ${JSON.stringify(Object.fromEntries(phase.errorCodes))}`);
  }
  if (args.json) {
    console.log(JSON.stringify({
      bench: 'socketio', clients, inflight, seconds, warmup, rounds, textBytes, synchronous,
      socketio: { msgsPerSec: Math.round(sioRate) },
      tidings: Object.fromEntries(transports.map((t) => [t, { msgsPerSec: Math.round(tidings.get(t)!.completed / measured) }])),
      ratios, target: TARGET,
    }));
  }
} catch (error) {
  console.error(`tools/bench/socketio failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const child of children) await child.stop(2000);
  clearTimeout(watchdog);
}
