/**
 * Shared client-side load for the throughput benches (core, fanout, socketio): a lean `ws`
 * client with a window of pipelined sends, phases measured over a shared window, percentile and
 * table helpers. Extracted from tools/bench/core.ts so every bench drives servers the same way.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { mintToken } from '../../../server/auth/tokens.ts';
import { cpuSecondsOf } from './spawn-child.ts';
import { openSocket, PendingRequests, type Frame } from './ws-requests.ts';

export const SECRET = 'bench-secret-0123456789abcdef';
export const ADMIN_SECRET = 'bench-admin-0123456789abcdef';

export interface Phase {
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

export function newPhase(): Phase {
  return { completed: 0, errors: 0, errorCodes: new Map(), sendLatencies: [], deliverLatencies: [], delivered: 0, clientCpuSec: 0, serverCpuSec: undefined, wallSec: 0 };
}

/** Measurement window shared by every client of a phase. */
export interface Window {
  from: number;
  to: number;
  /** False once the window closed: no new sends, only draining. */
  sending: boolean;
}

/** What runPhase drives: anything that can pipeline sends into a phase and drain. */
export interface LoadClient {
  /** Start sending (a sender) or just start counting deliveries (a listener). */
  start(phase: Phase, window: Window): void;
  drain(timeoutMs: number): Promise<void>;
  readonly pending: number;
  close(): void;
}

export interface LoadOptions {
  inflight: number;
  textBytes: number;
  warmup: number;
  seconds: number;
}

const PAD = 'x'.repeat(8192);

export function userId(i: number): string {
  return `bench-u${i}`;
}

/** A text starting with the send time (performance.now(), same process), padded to `bytes`. */
export function stampedText(now: number, bytes: number): string {
  const stamp = now.toFixed(3);
  return `${stamp} ${PAD.slice(0, Math.max(1, bytes - stamp.length - 1))}`;
}

/**
 * `tidings`: the protocol (login, sync, send, send_ack, events, batched acks).
 * `echo`: a raw echo server; the reply to a frame is the frame itself.
 * `broadcast`: a raw broadcast server; a frame back with my clientMsgId completes a send, any
 * other is a delivery.
 */
export type ClientMode = 'tidings' | 'echo' | 'broadcast';

export interface WsClientOptions {
  url: string;
  index: number;
  mode: ClientMode;
  /** Makes clientMsgIds unique across rounds (a reconnecting client starts counting again). */
  tag: string;
  /** The JSON of the send's `to`, e.g. `{"user":"bench-u1"}` or `{"group":"g"}`. */
  toJson: string;
  /** False: this client only receives (fan-out members). */
  sender: boolean;
  load: LoadOptions;
}

/** A lean client on `ws`: one socket, a window of pipelined sends, cheap bookkeeping. */
export class WsLoadClient implements LoadClient {
  readonly socket: WebSocket;
  readonly me: string;
  readonly #o: WsClientOptions;
  readonly #tag: string;
  readonly #inflight = new Map<string, number>();
  #nextRef = 0;
  #phase: Phase = newPhase();
  #window: Window = { from: Infinity, to: Infinity, sending: false };
  readonly #requests: PendingRequests;
  #lastSeq = 0;
  #ackedSeq = 0;
  #unacked = 0;
  #ackTimer: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;

  private constructor(socket: WebSocket, options: WsClientOptions) {
    this.socket = socket;
    this.#o = options;
    this.me = userId(options.index);
    this.#tag = `${this.me}.${options.tag}`;
    this.#requests = new PendingRequests(socket, this.me);
    socket.on('message', (data: Buffer) => this.#onMessage(data.toString()));
    socket.on('error', () => undefined);
  }

  static async connect(options: WsClientOptions): Promise<WsLoadClient> {
    return new WsLoadClient(await openSocket(options.url, `client ${options.index}`), options);
  }

  /** Send a frame and wait for the reply of `type` (or an error) with the same ref. */
  request(frame: Frame, type: string, timeoutMs = 10_000): Promise<Frame> {
    return this.#requests.request(frame, type, timeoutMs);
  }

  async loginAndSync(): Promise<void> {
    await this.request({ type: 'login', token: mintToken(SECRET, this.me, 3600), deviceId: 'd1', platform: 'android' }, 'login_ok');
    await this.request({ type: 'sync' }, 'sync_done');
  }

  start(phase: Phase, window: Window): void {
    this.#phase = phase;
    this.#window = window;
    if (this.#o.sender) for (let i = 0; i < this.#o.load.inflight; i++) this.#sendOne();
  }

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
    this.#inflight.set(ref, now);
    this.socket.send(`{"type":"send","ref":"${ref}","clientMsgId":"${this.#tag}.${n}","to":${this.#o.toJson},"content":{"type":"text","text":"${stampedText(now, this.#o.load.textBytes)}"}}`);
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

  #delivered(text: string | undefined, now: number): void {
    const sentAt = Number.parseFloat(text ?? '');
    if (!Number.isFinite(sentAt)) return;
    this.#phase.delivered += 1;
    this.#phase.deliverLatencies.push(now - sentAt);
  }

  #onMessage(text: string): void {
    const frame = JSON.parse(text) as Record<string, unknown>;
    const ref = frame.ref;
    if (this.#o.mode === 'echo') {
      if (typeof ref === 'string') this.#complete(ref, true);
      return;
    }
    if (this.#o.mode === 'broadcast') {
      const mine = typeof frame.clientMsgId === 'string' && frame.clientMsgId.startsWith(`${this.#tag}.`);
      if (mine) this.#complete(ref as string, true);
      else {
        const now = performance.now();
        if (now >= this.#window.from && now < this.#window.to) this.#delivered((frame.content as { text?: string } | undefined)?.text, now);
      }
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
    if (this.#requests.settle(frame)) return;
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
      this.#delivered((event.content as { text?: string } | undefined)?.text, now);
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

/** Connect `count` clients in batches of 50 so the accept queue is never the thing measured. */
export async function connectAll<C>(count: number, connect: (index: number) => Promise<C>): Promise<C[]> {
  const pool: C[] = [];
  for (let i = 0; i < count; i += 50) {
    pool.push(...await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => connect(i + k))));
  }
  return pool;
}

/**
 * Run one measured phase over already connected (and logged-in) clients: warm-up, `seconds`
 * measured (CPU of this process and of the server sampled over exactly that window), drain.
 */
export async function measurePhase(pool: LoadClient[], serverPid: number, load: LoadOptions, round: number, phase: Phase): Promise<void> {
  const start = performance.now();
  const window: Window = { from: start + load.warmup * 1000, to: start + (load.warmup + load.seconds) * 1000, sending: true };
  let cpuStart = process.cpuUsage();
  let serverCpuStart: number | undefined;
  let wallStart = 0;
  const markStart = setTimeout(() => {
    cpuStart = process.cpuUsage();
    serverCpuStart = cpuSecondsOf(serverPid);
    wallStart = performance.now();
  }, load.warmup * 1000);
  for (const client of pool) client.start(phase, window);
  await new Promise((resolve) => setTimeout(resolve, (load.warmup + load.seconds) * 1000 + 5));
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
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function latencyStats(samples: number[]): { p50: number; p99: number; max: number; n: number } {
  const sorted = Float64Array.from(samples).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN, n: sorted.length };
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
export const pct = (cpuSec: number | undefined, wallSec: number) => (cpuSec === undefined || wallSec <= 0 ? '-' : `${Math.round((cpuSec / wallSec) * 100)}%`);

export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  for (const row of rows) console.log(row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join('  '));
}

/** Parse `--transport ws|uws|both`; `both` (the default) falls back to ws when uWS does not load. */
export function parseTransports(raw: string | undefined, uwsLoads: boolean): Array<'ws' | 'uws'> {
  const value = raw ?? (uwsLoads ? 'both' : 'ws');
  if (value === 'both') return uwsLoads ? ['uws', 'ws'] : ['ws'];
  if (value === 'ws' || value === 'uws') return [value];
  console.error(`--transport must be ws, uws or both, got "${value}"`);
  process.exit(2);
}

export function intArg(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer in [${min}, ${max}], got "${raw}"`);
    process.exit(2);
  }
  return n;
}

/** parseArgs options for the flags phaseFlags() validates, shared by the peer/fan-out benches. */
export const PHASE_OPTIONS = {
  transport: { type: 'string' },
  inflight: { type: 'string', default: '10' },
  seconds: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '1' },
  rounds: { type: 'string', default: '1' },
  synchronous: { type: 'string', default: 'FULL' },
  writer: { type: 'string', default: 'thread' },
  'text-bytes': { type: 'string', default: '64' },
  json: { type: 'boolean', default: false },
} as const;

/** Flags every peer/fan-out bench shares, validated once: bounded window, duration and rounds. */
export function phaseFlags(args: { inflight: string; seconds: string; warmup: string; rounds: string; 'text-bytes': string; synchronous: string; writer: string }): {
  inflight: number; seconds: number; warmup: number; rounds: number; textBytes: number; synchronous: 'FULL' | 'NORMAL'; writer: 'thread' | 'inline'; load: LoadOptions;
} {
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
  const writer = args.writer;
  if (writer !== 'thread' && writer !== 'inline') {
    console.error(`--writer must be thread or inline, got "${args.writer}"`);
    process.exit(2);
  }
  return { inflight, seconds, warmup, rounds, textBytes, synchronous, writer, load: { inflight, textBytes, warmup, seconds } };
}

/**
 * Hard bound on a whole bench run: past `limitMs` the children get SIGTERM (SIGKILL after 2 s)
 * and the bench exits 1. Returns the timer so a finished run can clear it.
 */
export function startWatchdog(name: string, limitMs: number, children: Set<{ stop(graceMs?: number): Promise<void> }>): NodeJS.Timeout {
  const watchdog = setTimeout(() => {
    console.error(`tools/bench/${name}: exceeded ${Math.round(limitMs / 1000)} s, aborting`);
    void Promise.all([...children].map((child) => child.stop(2000))).finally(() => process.exit(1));
  }, limitMs);
  watchdog.unref();
  return watchdog;
}
