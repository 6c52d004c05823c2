/**
 * What `tidings load` runs against: its own server (fake vendors + one tidings child on SQLite),
 * a server given by `--url`, or its own cluster (`--cluster N`: fake vendors, a throw-away
 * PostgreSQL and redis-server, N tidings children on them). Everything started here is stopped
 * through `children` (in reverse order) and its temp dirs listed in `tempDirs`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Child } from '../lib/children.ts';
import { startPostgres, type ThrowAwayPostgres } from '../lib/postgres.ts';
import { startRedisServer, type RedisServer } from '../lib/redis-server.ts';
import { Balancer, singleUrl, type UrlPicker } from './balancer.ts';
import type { LoadOptions } from './options.ts';
import { startServerChild, startVendors, type VendorsReady } from './processes.ts';
import { AdminApi, AdminSandboxSource, FakeVendorSource, type LoadVendor, type PushSource } from './push-source.ts';

export const HEARTBEAT = { intervalMs: 2000, timeoutMs: 6000 };

/**
 * The cluster's own settings: presence entries of a dead node expire within seconds (so the
 * devices that stay away are pushed within the run), and a push the dead node had claimed is
 * another node's after 5 s.
 */
export const CLUSTER_SETTINGS = { presenceTtlMs: 6000, sweepMs: 500, claimLeaseMs: 5000, redisPrefix: 'tidings-load:' } as const;

export interface Stoppable {
  stop(graceMs?: number): Promise<void>;
}

/** One tidings server process this tool started. */
export interface ServerNode {
  id: string;
  url: string;
  httpUrl: string;
  pid: number;
  child: Child;
  dataDir: string;
  log: string;
  admin: AdminApi;
  /** When it was SIGKILLed (--kill-node-at). */
  killedAt?: number;
}

export interface ClusterParts {
  postgres: ThrowAwayPostgres;
  redis: RedisServer;
  balancer: Balancer;
  vendorsPid: number;
}

export interface Target {
  mode: 'own-server' | 'url' | 'cluster';
  /** The server's URL (a cluster: every node's, comma-separated). */
  url: string;
  /** Where each device connection goes. */
  picker: UrlPicker;
  httpUrl: string;
  secret: string;
  admin: AdminApi;
  source: PushSource;
  serverPid: number | null;
  serverConfig: Record<string, unknown> | null;
  dataDir: string | null;
  serverLog: string | null;
  /** The servers this tool started (one, or the cluster's nodes); none with --url. */
  nodes: ServerNode[];
  cluster: ClusterParts | undefined;
  /** The throw-away PostgreSQL of the one server (`--dialect postgres`); a cluster's is in `cluster`. */
  postgres?: ThrowAwayPostgres;
  children: Stoppable[];
  /** Removed at the end unless the data is kept. */
  tempDirs: string[];
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

function shown(config: Record<string, unknown>): Record<string, unknown> {
  const out = redacted(config) as Record<string, any>;
  out.auth.secrets = ['(random)'];
  out.admin.secret = '(random)';
  return out;
}

/** The server config of the own-server mode; every cluster node gets it too, plus storage and cluster. */
function serverConfigFor(opts: LoadOptions, v: VendorsReady, dataDir: string, secret: string, adminSecret: string): Record<string, any> {
  return {
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
}

async function startNode(opts: LoadOptions, id: string, config: Record<string, unknown>, dataDir: string, adminSecret: string): Promise<ServerNode> {
  const configFile = join(dataDir, 'load-server.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  const log = join(dataDir, 'server.log');
  const server = await startServerChild(configFile, log, opts.serverNodeArgs);
  const httpUrl = server.url.replace(/^ws/, 'http');
  return { id, url: server.url, httpUrl, pid: server.child.pid, child: server.child, dataDir, log, admin: new AdminApi(httpUrl, adminSecret) };
}

async function vendorParts(opts: LoadOptions, v: VendorsReady): Promise<Pick<Target, 'source' | 'credentials' | 'subscriptions'>> {
  const oemNames = Object.fromEntries(Object.keys(v.oemCredentials).map((name) => [name, name])) as Partial<Record<LoadVendor, string>>;
  const subscriptions = (await (await fetch(`${v.controlUrl}/subscriptions?n=${opts.devices}`)).json() as { subscriptions: Target['subscriptions'] }).subscriptions;
  return { source: new FakeVendorSource(v.controlUrl), credentials: { apns: 'ios', fcm: 'android', ...oemNames }, subscriptions };
}

export async function startOwnTarget(opts: LoadOptions, log: (line: string) => void): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-load-'));
  const children: Stoppable[] = [];
  const tempDirs = [dataDir];
  try {
    log('starting fake APNs, FCM, Huawei, Honor, Xiaomi, OPPO, vivo and Web Push (child process)…');
    const vendors = await startVendors();
    children.push(vendors.child);
    let postgres: ThrowAwayPostgres | undefined;
    if (opts.dialect === 'postgres') {
      log('starting a throw-away PostgreSQL (tools/ci/postgres.sh)…');
      postgres = await startPostgres('tidings_load');
      tempDirs.push(postgres.dir);
      const pg = postgres;
      children.push({ stop: () => pg.stop(true) });
    }
    const secret = randomBytes(24).toString('hex');
    const adminSecret = randomBytes(24).toString('hex');
    const base = serverConfigFor(opts, vendors.ready, dataDir, secret, adminSecret);
    const serverConfig = postgres ? { ...base, storage: { dialect: 'postgres', url: postgres.url } } : base;
    log(`starting tidings server (child process, transport ${opts.transport}, storage ${opts.dialect}, data ${dataDir})…`);
    const node = await startNode(opts, 'server', serverConfig, dataDir, adminSecret);
    children.push(node.child);
    return {
      mode: 'own-server', url: node.url, picker: singleUrl(node.url), httpUrl: node.httpUrl, secret, admin: node.admin,
      serverPid: node.pid, serverConfig: shown(serverConfig), dataDir, serverLog: node.log, nodes: [node], cluster: undefined,
      ...(postgres ? { postgres } : {}), children, tempDirs, ...(await vendorParts(opts, vendors.ready)),
    };
  } catch (error) {
    for (const child of [...children].reverse()) await child.stop(2000);
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export async function urlTarget(opts: LoadOptions): Promise<Target> {
  const url = opts.url!;
  const httpUrl = url.replace(/^ws/, 'http');
  const admin = new AdminApi(httpUrl, opts.adminSecret!);
  await admin.check();
  const source = new AdminSandboxSource(httpUrl, opts.adminSecret!);
  await source.poll();
  source.records.length = 0; // what was there before this run is not ours
  return {
    mode: 'url', url, picker: singleUrl(url), httpUrl, secret: opts.secret!, admin, source, serverPid: null, serverConfig: null, dataDir: null, serverLog: null,
    nodes: [], cluster: undefined,
    // Only the APNs/FCM credentials are known to exist on a server the tool did not start.
    children: [], tempDirs: [], credentials: { apns: 'ios', fcm: 'android' }, subscriptions: [],
  };
}

/** Both or neither: if one of PostgreSQL and redis-server fails to start, the other is stopped. */
async function startBackends(): Promise<{ postgres: ThrowAwayPostgres; redis: RedisServer }> {
  const [pg, redis] = await Promise.allSettled([startPostgres('tidings_load'), startRedisServer()]);
  if (pg.status === 'fulfilled' && redis.status === 'fulfilled') return { postgres: pg.value, redis: redis.value };
  if (pg.status === 'fulfilled') await pg.value.stop();
  if (redis.status === 'fulfilled') await redis.value.stop();
  const reasons = [pg, redis].flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  throw new Error(reasons.join('\n'));
}

export async function startClusterTarget(opts: LoadOptions, log: (line: string) => void): Promise<Target> {
  const count = opts.cluster!;
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-load-'));
  const children: Stoppable[] = [];
  const tempDirs = [dataDir];
  try {
    log('starting fake APNs, FCM, Huawei, Honor, Xiaomi, OPPO, vivo and Web Push (child process)…');
    const vendors = await startVendors();
    children.push(vendors.child);
    log('starting a throw-away PostgreSQL (tools/ci/postgres.sh) and redis-server (127.0.0.1, no persistence)…');
    const { postgres, redis } = await startBackends();
    tempDirs.push(postgres.dir);
    // Stopped, not removed, here: the directory goes with tempDirs (kept when the run failed).
    children.push({ stop: () => postgres.stop(true) }, { stop: () => redis.stop() });
    const secret = randomBytes(24).toString('hex');
    const adminSecret = randomBytes(24).toString('hex');
    const nodes: ServerNode[] = [];
    let firstConfig: Record<string, unknown> | undefined;
    // One after another: the first migrates the database, the others find it migrated.
    for (let i = 0; i < count; i++) {
      const id = `node${i + 1}`;
      const dir = join(dataDir, id);
      mkdirSync(dir);
      const base = serverConfigFor(opts, vendors.ready, dir, secret, adminSecret);
      const config = {
        ...base,
        storage: { dialect: 'postgres', url: postgres.url },
        cluster: {
          engine: 'redis', nodeId: id, redis: { url: redis.url, prefix: CLUSTER_SETTINGS.redisPrefix },
          presenceTtlMs: CLUSTER_SETTINGS.presenceTtlMs, sweepMs: CLUSTER_SETTINGS.sweepMs,
        },
        push: { ...base.push, claimLeaseMs: CLUSTER_SETTINGS.claimLeaseMs },
      };
      firstConfig ??= config;
      log(`starting tidings ${id} of ${count} (child process, transport ${opts.transport}, data ${dir})…`);
      const node = await startNode(opts, id, config, dir, adminSecret);
      nodes.push(node);
      children.push(node.child);
    }
    const balancer = new Balancer(nodes.map((n) => n.url), opts.seed);
    const serverConfig = shown(firstConfig!);
    (serverConfig.cluster as Record<string, unknown>).nodeId = `node1 … node${count}`;
    (serverConfig as Record<string, unknown>).dataDir = join(dataDir, 'node<i>');
    const first = nodes[0]!;
    return {
      mode: 'cluster', url: nodes.map((n) => n.url).join(','), picker: balancer, httpUrl: first.httpUrl, secret,
      // The database is shared, so any node answers the admin API; the first is never the one killed.
      admin: first.admin,
      serverPid: null, serverConfig, dataDir, serverLog: join(dataDir, 'node<i>', 'server.log'), nodes,
      cluster: { postgres, redis, balancer, vendorsPid: vendors.child.pid }, children, tempDirs,
      ...(await vendorParts(opts, vendors.ready)),
    };
  } catch (error) {
    for (const child of [...children].reverse()) await child.stop(2000);
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
