/** `tidings load` flags: parsing, defaults and the hard bounds every run stays within. */

export const LIMITS = {
  maxDevices: 20_000,
  maxDurationMs: 30 * 60_000,
  maxDrainMs: 120_000,
  maxRatePerMin: 600,
  maxGroupSize: 100,
  minClusterNodes: 2,
  maxClusterNodes: 5,
  /** --latency-window: narrower windows hold too few sends for a p99; wider ones say nothing a run total does not. */
  minLatencyWindowMs: 5000,
  maxLatencyWindowMs: 10 * 60_000,
} as const;

export interface LoadOptions {
  devices: number;
  durationMs: number;
  drainMs: number;
  url: string | undefined;
  secret: string | undefined;
  adminSecret: string | undefined;
  seed: number;
  /** Messages per active device per minute. */
  rate: number;
  groups: number;
  out: string;
  transport: 'ws' | 'uws';
  keepData: boolean;
  /** Server log level for a server this tool starts (its log goes to a file in the data dir). */
  serverLogLevel: string;
  /** Extra node flags for the server child (e.g. --cpu-prof), for investigating the server. */
  serverNodeArgs: string[];
  /** Self-test: client-side faults the accounting must catch (see parseFaults). */
  faults: Faults;
  /** `--cluster N`: N nodes on one PostgreSQL and one redis-server, all started by the tool; undefined = one node on SQLite. */
  cluster: number | undefined;
  /** `--kill-node-at`: SIGKILL the last node this long after the run starts (cluster only). */
  killNodeAtMs: number | undefined;
  /** `--dialect`: the storage of the one server this tool starts; a cluster is always on PostgreSQL. */
  dialect: 'sqlite' | 'postgres';
  /** `--latency-window`: width of the report's per-window send→ack / send→deliver record. */
  latencyWindowMs: number;
}

/**
 * Faults the tool injects on its own side to prove the accounting catches them:
 * drop-event (a device ignores an event but moves its cursor past it → lost), dup-sync (a device
 * resyncs from cursor − 1 after a reconnect → duplicate), drop-push (a received push is
 * forgotten → lost push), dup-push (a push is seen twice with another apns-id → duplicate push).
 */
export interface Faults {
  dropEvent: number;
  dupSync: number;
  dropPush: number;
  dupPush: number;
}

export function parseFaults(spec: string | undefined): Faults {
  const faults: Faults = { dropEvent: 0, dupSync: 0, dropPush: 0, dupPush: 0 };
  if (!spec) return faults;
  const names: Record<string, keyof Faults> = { 'drop-event': 'dropEvent', 'dup-sync': 'dupSync', 'drop-push': 'dropPush', 'dup-push': 'dupPush' };
  for (const part of spec.split(',')) {
    const [name, p] = part.split(':');
    const key = names[name ?? ''];
    const prob = Number(p);
    if (!key || !(prob >= 0 && prob <= 1)) throw new UsageError(`--inject-fault: "${part}" is not <drop-event|dup-sync|drop-push|dup-push>:<probability 0-1>`);
    faults[key] = prob;
  }
  return faults;
}

export interface RawLoadOptions {
  devices?: string;
  duration?: string;
  drain?: string;
  url?: string;
  secret?: string;
  adminSecret?: string;
  seed?: string;
  rate?: string;
  groups?: string;
  out?: string;
  transport?: string;
  keepData?: boolean;
  serverLogLevel?: string;
  serverNodeArg?: string[];
  injectFault?: string;
  cluster?: string;
  killNodeAt?: string;
  dialect?: string;
  latencyWindow?: string;
}

export class UsageError extends Error {}

/** `30s`, `2m`, `1m30s`, `500ms`, `90` (seconds). */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    const n = Number(m[1]);
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== trimmed.length) throw new UsageError(`not a duration: "${text}" (use e.g. 30s, 2m, 1m30s)`);
  return Math.round(total);
}

function int(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return n;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function resolveOptions(raw: RawLoadOptions): LoadOptions {
  const devices = int('devices', raw.devices ?? '2000', 2, LIMITS.maxDevices);
  const durationMs = parseDuration(raw.duration ?? '30s');
  if (durationMs < 1000 || durationMs > LIMITS.maxDurationMs) throw new UsageError(`--duration must be between 1s and ${LIMITS.maxDurationMs / 60_000}m`);
  const drainMs = parseDuration(raw.drain ?? '30s');
  if (drainMs < 5000 || drainMs > LIMITS.maxDrainMs) throw new UsageError(`--drain must be between 5s and ${LIMITS.maxDrainMs / 1000}s`);
  const rate = Number(raw.rate ?? '6');
  if (!(rate >= 0 && rate <= LIMITS.maxRatePerMin)) throw new UsageError(`--rate must be a number of messages per device per minute in [0, ${LIMITS.maxRatePerMin}]`);
  const groups = int('groups', raw.groups ?? String(Math.max(1, Math.round(devices / 25))), 0, Math.max(1, devices));
  const seed = int('seed', raw.seed ?? '1', 0, 2 ** 32 - 1);
  const transport = raw.transport ?? 'ws';
  if (transport !== 'ws' && transport !== 'uws') throw new UsageError('--transport must be ws or uws');
  // Before --url's own checks, so the conflict is what the user is told about.
  if (raw.cluster !== undefined && raw.url !== undefined) throw new UsageError('--cluster starts its own nodes; it cannot be combined with --url');
  let url: string | undefined;
  if (raw.url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(raw.url);
    } catch {
      throw new UsageError(`--url is not a URL: ${raw.url}`);
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'http:') throw new UsageError('--url must be ws://host:port (or http://host:port)');
    // The load tool is a local tool: thousands of sockets against someone else's host is not its job.
    if (!LOOPBACK.has(parsed.hostname)) throw new UsageError('--url must point at a loopback address (127.0.0.1, localhost, ::1)');
    url = `ws://${parsed.host}`;
    if (!raw.secret) throw new UsageError('--url needs --secret (an app secret of that server, to mint login tokens)');
    if (!raw.adminSecret) throw new UsageError('--url needs --admin-secret (for /healthz-independent push accounting via /admin/*)');
  }
  let cluster: number | undefined;
  if (raw.cluster !== undefined) {
    cluster = int('cluster', raw.cluster, LIMITS.minClusterNodes, LIMITS.maxClusterNodes);
  }
  let killNodeAtMs: number | undefined;
  if (raw.killNodeAt !== undefined) {
    if (cluster === undefined) throw new UsageError('--kill-node-at needs --cluster (it kills one of the nodes the tool started)');
    killNodeAtMs = parseDuration(raw.killNodeAt);
    // The kill must happen while the mix runs, so its consequences are part of what is accounted.
    if (killNodeAtMs <= 0 || killNodeAtMs >= durationMs) throw new UsageError(`--kill-node-at must be inside the run: more than 0 and less than --duration (${raw.duration ?? '30s'})`);
  }
  const dialect = raw.dialect ?? (cluster ? 'postgres' : 'sqlite');
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new UsageError('--dialect must be sqlite or postgres');
  if (dialect === 'sqlite' && cluster) throw new UsageError('--cluster runs on PostgreSQL; --dialect sqlite cannot be combined with it');
  if (raw.dialect !== undefined && raw.url !== undefined) throw new UsageError('--dialect chooses the storage of the server this tool starts; it cannot be combined with --url');
  const latencyWindowMs = parseDuration(raw.latencyWindow ?? '60s');
  if (latencyWindowMs < LIMITS.minLatencyWindowMs || latencyWindowMs > LIMITS.maxLatencyWindowMs) {
    throw new UsageError(`--latency-window must be between ${LIMITS.minLatencyWindowMs / 1000}s and ${LIMITS.maxLatencyWindowMs / 60_000}m`);
  }
  return {
    devices, durationMs, drainMs, url, secret: raw.secret, adminSecret: raw.adminSecret, seed, rate, groups,
    out: raw.out ?? 'reports', transport, keepData: raw.keepData ?? false, serverLogLevel: raw.serverLogLevel ?? 'warn',
    serverNodeArgs: raw.serverNodeArg ?? [], faults: parseFaults(raw.injectFault), cluster, killNodeAtMs, dialect,
    latencyWindowMs,
  };
}
