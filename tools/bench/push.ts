/**
 * Push bench: APNs pushes/s through the real client (`ApnsProvider` on node-apn) to the fake APNs,
 * next to the fake's own ceiling measured in the same run with a raw `node:http2` client, and the
 * end-to-end time from a device's heartbeat deadline to the fake receiving its push.
 *
 *   node --import tsx tools/bench/push.ts [--seconds 2] [--warmup 0.5] [--concurrency 50] [--rounds 2]
 *     [--devices 200] [--synchronous FULL|NORMAL] [--collapse-window-ms N]
 *     [--skip-throughput] [--skip-e2e] [--skip-vendors] [--vendors huawei,honor,xiaomi,oppo,vivo,webpush]
 *     [--cpu-prof-dir /tmp/x] [--json]
 *
 * (a) ceiling: a raw HTTP/2 client (one session, like node-apn) keeps `concurrency` valid APNs
 *     requests in flight (ES256 JWT signed here with node:crypto, apns-topic, apns-push-type:
 *     alert, the same JSON body tidings would send) for `seconds` → requests/s.
 * (b) ApnsProvider (token auth, endpoint = the fake) sends the same notifications with the same
 *     concurrency for `seconds` → pushes/s, send latency; printed as a ratio (b)/(a).
 * (c) timeout → push: a tidings server (child process, heartbeat 100/500 ms, push.pollMs 10,
 *     credentials pointing at a second fake APNs child that records receive times). `devices`
 *     devices log in, register an APNs token and sync; a sender sends each one message, which each
 *     receives over its socket and does not ack; then every device sends one last ping at the same
 *     moment T and goes silent (socket left open). Per device: deadline = its last frame sent +
 *     timeoutMs; the figure is fake receivedAt − deadline (wall clock, Date.now() in both
 *     processes), split into deadline → socket dropped by the server (offline detection, which
 *     includes the heartbeat scan granularity min(1000, timeoutMs/4) ms), dropped → push job
 *     queued (the server's decision trace, read via /admin/trace afterwards), queued → due (the
 *     job's nextAttemptAt from /admin/push-jobs: the deliberate push.collapseWindowMs hold) and
 *     due → the fake received it (outbox dispatcher + ApnsProvider). All devices time out in the
 *     same moment, so this is the latency of a burst of `devices` replays, not of a lone device.
 *
 * (d) the other vendors: for Huawei, Honor, Xiaomi, OPPO, vivo and Web Push, pushes/s through our
 *     provider (`vendor.create(...).send`, the registry's own vendor objects) against that vendor's
 *     fake, next to a raw HTTPS client (node:https, keep-alive agent of 64 sockets like the
 *     providers', same fake, same concurrency) that sends pre-built valid requests: one OAuth or
 *     auth token fetched up front (Huawei, Honor, OPPO, vivo), a fresh id where the vendor
 *     de-duplicates (OPPO app_message_id, vivo requestId), and for Web Push a fresh aes128gcm
 *     encryption per push with one VAPID JWT. The fakes run in one child process
 *     (tools/load/vendors-child.ts --count-only). Printed as a ratio per vendor.
 *
 * The fake APNs runs in a child process (tools/bench/lib/fake-apns-process.ts) so it never shares an
 * event loop with the client being measured; (a) and (b) run one after the other, alternating
 * `rounds` times (each round: warm-up + `seconds` measured), and are summed, so load from other
 * processes on the machine hits both about equally. CPU µs per push is printed too: it is
 * steadier than pushes/s when the machine is shared. Loopback only, bounded in count and time;
 * no target is enforced through the exit code. `--cpu-prof-dir` writes a CPU profile of this
 * process for each round of (a) and (b) (the sending side), and `--cpu-prof` profiles of the
 * fake APNs children and of the tidings server in (c).
 */
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { Session as InspectorSession } from 'node:inspector/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ApnsProvider } from '../../push/vendors/apns/apns-provider.ts';
import { buildApnsRequest } from '../../push/vendors/apns/apns-payload.ts';
import type { ApnsCredential } from '../../push/vendors/apns/apns-credential.ts';
import type { PushMessage, PushProvider, PushTarget, VendorDeps } from '../../push/vendors/contract.ts';
import { buildHonorRequest } from '../../push/vendors/honor/honor-payload.ts';
import type { HonorCredential } from '../../push/vendors/honor/honor-credential.ts';
import { closeVendorAgents } from '../../push/vendors/http.ts';
import { buildHuaweiRequest } from '../../push/vendors/huawei/huawei-payload.ts';
import type { HuaweiCredential } from '../../push/vendors/huawei/huawei-credential.ts';
import { oppoAuthForm } from '../../push/vendors/oppo/oppo-auth.ts';
import { oppoUrls, type OppoCredential } from '../../push/vendors/oppo/oppo-credential.ts';
import { buildOppoMessage, oppoUnicastForm } from '../../push/vendors/oppo/oppo-payload.ts';
import { vendorOfType } from '../../push/vendors/registry.ts';
import { vivoAuthBody } from '../../push/vendors/vivo/vivo-auth.ts';
import { vivoUrls, type VivoCredential } from '../../push/vendors/vivo/vivo-credential.ts';
import { VIVO_AUTH_HEADER, VIVO_PUSH_MODE } from '../../push/vendors/vivo/vivo-facts.ts';
import { buildVivoSend } from '../../push/vendors/vivo/vivo-payload.ts';
import type { WebPushCredential } from '../../push/vendors/webpush/webpush-credential.ts';
import { buildWebPush } from '../../push/vendors/webpush/webpush-payload.ts';
import { buildXiaomiRequest } from '../../push/vendors/xiaomi/xiaomi-payload.ts';
import type { XiaomiCredential } from '../../push/vendors/xiaomi/xiaomi-credential.ts';
import { encryptAes128gcm, type FakeSubscription } from '../fakes/webpush-server.ts';
import { mintToken } from '../../server/auth/tokens.ts';
import { validateConfig } from '../../server/config/load-config.ts';
import { fmt, intArg, latencyStats as stats, pct, printTable } from './lib/peer-load.ts';
import { cpuSecondsOf, spawnTsChild, type ChildHandle } from './lib/spawn-child.ts';
import { openSocket, PendingRequests, type Frame } from './lib/ws-requests.ts';

type Stats = ReturnType<typeof stats>;

const SECRET = 'bench-secret-0123456789abcdef';
const ADMIN_SECRET = 'bench-admin-0123456789abcdef';
const TOPIC = 'com.example.tidings';
const KEY_ID = 'KEY1234567';
const TEAM_ID = 'TEAM123456';
const CREDENTIAL = 'bench-ios';
const HEARTBEAT = { intervalMs: 100, timeoutMs: 500 };
const PUSH_POLL_MS = 10;
/** SessionRegistry scans presence this often (server/sessions/session-registry.ts). */
const SCAN_EVERY_MS = Math.max(10, Math.min(1000, Math.floor(HEARTBEAT.timeoutMs / 4)));
const REQUEST_TIMEOUT_MS = 5000;
const TOKENS = 1024; // distinct device tokens the throughput phases cycle through

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '0.5' },
    concurrency: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '2' },
    devices: { type: 'string', default: '200' },
    'skip-e2e': { type: 'boolean', default: false },
    'skip-throughput': { type: 'boolean', default: false },
    'skip-vendors': { type: 'boolean', default: false },
    vendors: { type: 'string', default: 'huawei,honor,xiaomi,oppo,vivo,webpush' },
    synchronous: { type: 'string', default: 'FULL' },
    'collapse-window-ms': { type: 'string' },
    'cpu-prof-dir': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (args.help) {
  console.log('usage: node --import tsx tools/bench/push.ts [--seconds D] [--warmup S] [--concurrency C] [--rounds R] [--devices N] [--synchronous FULL|NORMAL] [--collapse-window-ms N] [--skip-throughput] [--skip-e2e] [--skip-vendors] [--vendors LIST] [--cpu-prof-dir DIR] [--json]');
  process.exit(0);
}

// Bounded load: at most 1000 streams in flight, 60 s measured per phase, 2000 devices.
const concurrency = intArg('concurrency', args.concurrency, 1, 1000);
const devices = intArg('devices', args.devices, 1, 2000);
const rounds = intArg('rounds', args.rounds, 1, 10);
const seconds = Number(args.seconds);
const warmup = Number(args.warmup);
if (!(seconds > 0 && seconds <= 60) || !(warmup >= 0 && warmup <= 30)) {
  console.error('--seconds must be in (0, 60] and --warmup in [0, 30]');
  process.exit(2);
}
const synchronous = args.synchronous.toUpperCase();
if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
  console.error(`--synchronous must be FULL or NORMAL, got "${args.synchronous}"`);
  process.exit(2);
}
/** push.collapseWindowMs for the e2e server; unset = the server's default. */
const collapseWindowMs = args['collapse-window-ms'] === undefined ? undefined : intArg('collapse-window-ms', args['collapse-window-ms'], 0, 60_000);
const cpuProfDir = args['cpu-prof-dir'];
if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });

const BENCH_VENDORS = ['huawei', 'honor', 'xiaomi', 'oppo', 'vivo', 'webpush'] as const;
type BenchVendor = (typeof BENCH_VENDORS)[number];
const benchVendors = args['skip-vendors'] ? [] : args.vendors.split(',').map((v) => v.trim()).filter(Boolean);
for (const v of benchVendors) {
  if (!(BENCH_VENDORS as readonly string[]).includes(v)) {
    console.error(`--vendors: unknown vendor "${v}" (one of ${BENCH_VENDORS.join(', ')})`);
    process.exit(2);
  }
}

const children = new Set<ChildHandle>();
// Hard bound on the whole run: every throughput phase plus drain, the e2e phase, start-up slack.
const phaseSec = warmup + seconds + REQUEST_TIMEOUT_MS / 1000 + 5;
const hardLimitMs = (args['skip-throughput'] ? 0 : rounds * 2 * phaseSec * 1000)
  + benchVendors.length * rounds * 2 * phaseSec * 1000 + (benchVendors.length > 0 ? 40_000 : 0)
  + (args['skip-e2e'] ? 0 : 60_000 + devices * 50) + 30_000;
const watchdog = setTimeout(() => {
  console.error(`tools/bench/push: exceeded ${Math.round(hardLimitMs / 1000)} s, aborting`);
  void Promise.all([...children].map((child) => child.stop(2000))).finally(() => process.exit(1));
}, hardLimitMs);
watchdog.unref();

// ---------------------------------------------------------------------------------------------
// Shared helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message())), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** 64 hex digits, distinct per n (like test/helpers/push-env.ts apnsToken). */
const tokenFor = (n: number) => n.toString(16).padStart(8, '0').repeat(8);

async function startChild(script: string, childArgs: string[], label: string, nodeArgs: string[] = []): Promise<ChildHandle> {
  const child = await spawnTsChild(fileURLToPath(new URL(script, import.meta.url)), childArgs, { label, nodeArgs });
  children.add(child);
  return child;
}

async function stopChild(child: ChildHandle): Promise<void> {
  await child.stop(2000);
  children.delete(child);
}

async function getJson<T>(url: string, method = 'GET'): Promise<T> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** In-process CPU profile of one phase (the sending side), via the inspector. */
async function profiled<T>(name: string, run: () => Promise<T>): Promise<T> {
  if (!cpuProfDir) return run();
  const session = new InspectorSession();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 250 });
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    const file = join(cpuProfDir, `push-${name}-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    console.log(`  cpu profile of this process during ${name}: ${file}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Credentials and the notification both throughput phases send

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** ES256 provider token as Apple specifies it: {alg, kid} . {iss, iat}, raw r||s signature. */
function providerJwt(key: KeyObject, keyId: string, teamId: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: keyId })).toString('base64url');
  const claims = Buffer.from(JSON.stringify({ iss: teamId, iat: Math.floor(Date.now() / 1000) })).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${header}.${claims}.${signature}`;
}

/** What the dispatcher hands the provider for a peer text message (push/decide.ts), minus the id. */
function templateMessage(): Omit<PushMessage, 'id'> {
  return {
    purpose: 'message', kind: 'alert', priority: 'high', expiresAt: Math.floor(Date.now() / 1000) + 86_400,
    title: 'New message', body: 'You have a new message',
    data: {
      sender: 'bench-sender', receiver: 'bench-d1', messageId: 'V1StGXR8_Z5jdHi6B-myT', eventId: '1208',
      conversationType: 'peer', conversation: 'p:bench-d1:bench-sender',
    },
  };
}

const targetFor = (n: number): PushTarget => ({ registration: 'apns', token: tokenFor(n % TOKENS), credential: CREDENTIAL, options: { environment: 'development' } });

function apnsCredential(host: string, port: number, ca: string): ApnsCredential {
  return {
    type: 'apns', topic: TOPIC, auth: { kind: 'token', key: privatePem, keyId: KEY_ID, teamId: TEAM_ID },
    endpoints: { development: { host, port } }, ca,
  };
}

interface FakeReady { host: string; port: number; ca: string; controlUrl: string }

function fakeConfig(record: boolean): string {
  return JSON.stringify({ publicKey: publicPem, keyId: KEY_ID, teamId: TEAM_ID, topic: TOPIC, environment: 'development', record });
}

// ---------------------------------------------------------------------------------------------
// (a) and (b): closed loop with `concurrency` requests in flight

/** Sends one push; resolves null on success or a short error label. */
type SendOne = (n: number) => Promise<string | null>;

interface LoadResult {
  completed: number;
  errors: Map<string, number>;
  latencies: number[];
  wallSec: number;
  clientCpuSec: number;
  fakeCpuSec: number | undefined;
}

function newLoad(): LoadResult {
  return { completed: 0, errors: new Map(), latencies: [], wallSec: 0, clientCpuSec: 0, fakeCpuSec: 0 };
}

async function closedLoop(sendOne: SendOne, fakePid: number, into: LoadResult): Promise<void> {
  const start = performance.now();
  const from = start + warmup * 1000;
  const to = from + seconds * 1000;
  let cpuStart = process.cpuUsage();
  let fakeCpuStart: number | undefined;
  let wallStart = start;
  const markStart = setTimeout(() => {
    cpuStart = process.cpuUsage();
    fakeCpuStart = cpuSecondsOf(fakePid);
    wallStart = performance.now();
  }, warmup * 1000);
  // Sample CPU exactly over the measured window, not the drain after it.
  const markEnd = new Promise<void>((resolve) => setTimeout(() => {
    const cpu = process.cpuUsage(cpuStart);
    const fakeCpuEnd = cpuSecondsOf(fakePid);
    into.wallSec += (performance.now() - wallStart) / 1000;
    into.clientCpuSec += (cpu.user + cpu.system) / 1e6;
    into.fakeCpuSec = into.fakeCpuSec !== undefined && fakeCpuStart !== undefined && fakeCpuEnd !== undefined
      ? into.fakeCpuSec + fakeCpuEnd - fakeCpuStart : undefined;
    resolve();
  }, to - start));

  let next = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < to) {
      const n = next++;
      const t0 = performance.now();
      let failure: string | null;
      try {
        failure = await sendOne(n);
      } catch (error) {
        failure = `threw: ${errorText(error)}`;
      }
      const t1 = performance.now();
      if (t1 < from || t1 >= to) continue;
      if (failure === null) {
        into.completed += 1;
        into.latencies.push(t1 - t0);
      } else {
        into.errors.set(failure, (into.errors.get(failure) ?? 0) + 1);
        // Do not spin on a dead endpoint.
        if (failure.startsWith('connect') || failure.startsWith('retry: network')) await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearTimeout(markStart);
  await markEnd;
}

/** (a) A minimal APNs client: one HTTP/2 session, pre-built body, one JWT, fresh apns-id. */
async function runCeiling(fake: FakeReady, fakePid: number, into: LoadResult, round: number): Promise<void> {
  const built = buildApnsRequest(targetFor(0), { ...templateMessage(), id: randomUUID() }, TOPIC);
  if (!built.ok) throw new Error('bench notification does not fit');
  const body = JSON.stringify(built.request.payload);
  const { 'apns-id': _ignored, ...fixedHeaders } = built.request.headers;
  const authorization = `bearer ${providerJwt(privateKey, KEY_ID, TEAM_ID)}`;
  const authority = `${fake.host}:${fake.port}`;
  let session: http2.ClientHttp2Session | undefined;
  const connect = (): http2.ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const s = http2.connect(`https://${authority}`, { ca: fake.ca });
    s.on('error', () => undefined);
    s.on('goaway', () => s.close());
    session = s;
    return s;
  };

  const sendOne: SendOne = (n) => new Promise((resolve) => {
    let req: http2.ClientHttp2Stream;
    try {
      req = connect().request({
        ':method': 'POST', ':scheme': 'https', ':authority': authority, ':path': `/3/device/${tokenFor(n % TOKENS)}`,
        ...fixedHeaders, 'apns-id': randomUUID(), authorization,
      });
    } catch (error) {
      resolve(`connect: ${errorText(error)}`);
      return;
    }
    let status = 0;
    let text = '';
    req.setEncoding('utf8');
    req.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => resolve(status === 200 ? null : `HTTP ${status} ${text}`));
    req.on('error', (error) => resolve(`stream error: ${errorText(error)}`));
    req.setTimeout(REQUEST_TIMEOUT_MS, () => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      resolve('timeout');
    });
    req.end(body);
  });

  try {
    await profiled(`ceiling-r${round}`, () => closedLoop(sendOne, fakePid, into));
  } finally {
    session?.close();
  }
}

/** (b) The real client: ApnsProvider.send (payload build + node-apn) per push. */
async function runProvider(fake: FakeReady, fakePid: number, into: LoadResult, round: number): Promise<void> {
  const provider = new ApnsProvider(CREDENTIAL, apnsCredential(fake.host, fake.port, fake.ca), { requestTimeoutMs: REQUEST_TIMEOUT_MS });
  const template = templateMessage();
  const sendOne: SendOne = async (n) => {
    const outcome = await provider.send(targetFor(n), { ...template, id: randomUUID() });
    if (outcome.status === 'delivered') return null;
    return `${outcome.status}: ${'reason' in outcome ? outcome.reason : ''}`;
  };
  try {
    await profiled(`node-apn-r${round}`, () => closedLoop(sendOne, fakePid, into));
  } finally {
    await provider.close();
  }
}

// ---------------------------------------------------------------------------------------------
// (c) heartbeat timeout → push, end to end


/** A lean protocol client on `ws` (the reference is test/helpers/client.ts). */
class WsClient {
  readonly socket: WebSocket;
  readonly label: string;
  closedAt: number | undefined;
  onFrame: ((frame: Frame) => void) | undefined;
  readonly #requests: PendingRequests;

  private constructor(socket: WebSocket, label: string) {
    this.socket = socket;
    this.label = label;
    this.#requests = new PendingRequests(socket, label);
    socket.on('message', (data: Buffer) => this.#onMessage(data.toString()));
    socket.on('error', () => undefined);
    socket.on('close', (code) => {
      this.closedAt = Date.now();
      this.#requests.closed(code);
    });
  }

  static async connect(url: string, label: string): Promise<WsClient> {
    return new WsClient(await openSocket(url, label), label);
  }

  request(frame: Frame, type: string, timeoutMs = 10_000): Promise<Frame> {
    return this.#requests.request(frame, type, timeoutMs);
  }

  /** Fire-and-forget frame; returns Date.now() taken right before handing it to the socket. */
  send(text: string): number {
    const at = Date.now();
    this.socket.send(text);
    return at;
  }

  async login(user: string, deviceId: string): Promise<void> {
    await this.request({ type: 'login', token: mintToken(SECRET, user, 3600), deviceId, platform: 'ios' }, 'login_ok');
  }

  #onMessage(text: string): void {
    const frame = JSON.parse(text) as Frame;
    if (!this.#requests.settle(frame)) this.onFrame?.(frame);
  }

  close(): void {
    this.socket.terminate();
  }
}

interface Device {
  index: number;
  user: string;
  token: string;
  client: WsClient;
  messageAt: number | undefined;
  gotMessage: Promise<void>;
  lastSentAt: number;
}

interface E2eResult {
  devices: number;
  /** Devices still connected at T, the ones measured; `excluded` were dropped between their message and T. */
  measured: number;
  excluded: number;
  /** Devices re-connected because the server dropped them during setup (before any message). */
  setupRetries: number;
  pushed: number;
  missing: number;
  rejected: number;
  /** retry/failed/cancelled decisions in the server's push trace, by reason. */
  traceProblems: Record<string, number>;
  deadlineToPush: Stats;
  deadlineToDetect: Stats;
  detectToQueued: Stats;
  queuedToDue: Stats;
  dueToPush: Stats;
  /** The server's effective push.collapseWindowMs (undefined if it has none). */
  collapseWindowMs: number | undefined;
  setupSec: number;
}

async function connectDevice(url: string, index: number): Promise<Device> {
  const user = `bench-d${index}`;
  const token = tokenFor(0x100000 + index);
  const client = await WsClient.connect(url, user);
  let resolveMessage!: () => void;
  const device: Device = {
    index, user, token, client, messageAt: undefined, lastSentAt: Date.now(),
    gotMessage: new Promise<void>((resolve) => { resolveMessage = resolve; }),
  };
  client.onFrame = (frame) => {
    if (frame.type !== 'events' || device.messageAt !== undefined) return;
    const events = frame.events as Array<{ kind?: string; from?: string }>;
    if (events.some((e) => e.kind === 'message' && e.from === 'bench-sender')) {
      device.messageAt = Date.now(); // received over the socket; deliberately never acked
      resolveMessage();
    }
  };
  return device;
}

async function runE2e(): Promise<E2eResult> {
  const setupStart = Date.now();
  const profArgs = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];
  const fake = await startChild('./lib/fake-apns-process.ts', ['--config', fakeConfig(true)], 'fake APNs (recording)', profArgs);
  const ready = fake.ready as unknown as FakeReady;
  const serverConfig = {
    host: '127.0.0.1', port: 0, logLevel: 'silent',
    auth: { secrets: [SECRET] }, admin: { secret: ADMIN_SECRET },
    heartbeat: HEARTBEAT,
    limits: { framesPerSecond: 1_000_000, frameBurst: 1_000_000 },
    push: {
      credentials: { [CREDENTIAL]: apnsCredential(ready.host, ready.port, ready.ca) }, pollMs: PUSH_POLL_MS,
      ...(collapseWindowMs !== undefined ? { collapseWindowMs } : {}),
    },
    storage: { synchronous },
  };
  // The effective push settings (server defaults filled in), to print what was measured.
  const effectivePush = validateConfig(serverConfig).push as unknown as Record<string, unknown>;
  const collapseWindow = typeof effectivePush.collapseWindowMs === 'number' ? effectivePush.collapseWindowMs : undefined;
  const server = await startChild('./lib/server-process.ts', ['--config', JSON.stringify(serverConfig)], 'tidings server', profArgs);
  if (cpuProfDir) console.log(`  cpu profiles of the tidings server (pid ${server.pid}) and fake (pid ${fake.pid}): ${cpuProfDir}/CPU.*.cpuprofile`);
  const url = String(server.ready.url);

  const pool: Device[] = [];
  let sender: WsClient | undefined;
  // Every client keeps its heartbeat until T; one timer for all of them.
  const live = new Set<WsClient>();
  const beat = setInterval(() => {
    for (const c of live) if (c.socket.readyState === WebSocket.OPEN) c.send('{"type":"ping"}');
  }, HEARTBEAT.intervalMs);
  // A server whose event loop stalls past the 500 ms timeout (sqlite commits on a busy machine)
  // drops devices that did ping; before their message exists that costs nothing, so retry them.
  let setupRetries = 0;
  const setUp = async (index: number): Promise<Device> => {
    for (let attempt = 1; ; attempt++) {
      const d = await connectDevice(url, index);
      live.add(d.client);
      try {
        await d.client.login(d.user, `${d.user}-phone`);
        await d.client.request({ type: 'push_register', provider: 'apns', token: d.token, credential: CREDENTIAL, environment: 'development' }, 'push_registered');
        await d.client.request({ type: 'sync' }, 'sync_done');
        return d;
      } catch (error) {
        const dropped = d.client.closedAt !== undefined;
        live.delete(d.client);
        d.client.close();
        if (!dropped || attempt >= 3) throw error;
        setupRetries += 1;
      }
    }
  };
  try {
    // Devices: connect, log in, register the APNs token, sync; in batches so accept is not the test.
    for (let i = 0; i < devices; i += 50) {
      pool.push(...await Promise.all(Array.from({ length: Math.min(50, devices - i) }, (_, k) => setUp(i + k))));
    }
    // One message to every device, delivered live over its socket.
    sender = await WsClient.connect(url, 'bench-sender');
    live.add(sender);
    await sender.login('bench-sender', 'bench-sender-desktop');
    await Promise.all(pool.map((d) => sender!.request(
      { type: 'send', clientMsgId: `m${d.index}`, to: { user: d.user }, content: { type: 'text', text: `hello ${d.user}` } }, 'send_ack', 15_000)));
    live.delete(sender);
    sender.close();
    await withTimeout(Promise.all(pool.map((d) => d.gotMessage)), 15_000,
      () => `only ${pool.filter((d) => d.messageAt !== undefined).length}/${devices} devices got their message`);
    // Let the server finish its "online, suppressed" bookkeeping for those messages before T.
    await sleep(2 * HEARTBEAT.intervalMs);
    // A device dropped from here on already had its push triggered: it cannot be measured.
    const measured = pool.filter((d) => d.client.closedAt === undefined);
    const excluded = pool.length - measured.length;
    if (measured.length === 0) throw new Error(`all ${pool.length} devices were dropped before going silent (server stalled past the ${HEARTBEAT.timeoutMs} ms timeout?)`);
    const setupSec = (Date.now() - setupStart) / 1000;

    // T: every device sends its last frame now and then nothing more; sockets stay open.
    clearInterval(beat);
    live.clear();
    for (const d of measured) d.lastSentAt = d.client.send('{"type":"ping"}');

    // Wait for the server to drop them and the fake to receive a push for each.
    const waitUntil = Date.now() + HEARTBEAT.timeoutMs + 20_000;
    let seen: { received: Array<{ token: string; receivedAt: number }>; rejected: unknown[] } = { received: [], rejected: [] };
    while (Date.now() < waitUntil) {
      await sleep(100);
      seen = await getJson<typeof seen>(`${ready.controlUrl}/received`);
      const tokens = new Set(seen.received.map((p) => p.token));
      if (measured.every((d) => tokens.has(d.token) && d.client.closedAt !== undefined)) break;
    }
    const rejectedCount = seen.rejected.length;
    const firstPush = new Map<string, number>();
    for (const p of seen.received) if (!firstPush.has(p.token)) firstPush.set(p.token, p.receivedAt);

    // When the server queued each replay push: its decision trace (`tidings why`), read after the fact.
    const queuedAt = new Map<string, number>();
    const traceProblems = new Map<string, number>();
    const dueAt = new Map<string, number>();
    const adminBase = url.replace(/^ws/, 'http');
    for (let i = 0; i < measured.length; i += 20) {
      await Promise.all(measured.slice(i, i + 20).map(async (d) => {
        const res = await fetch(`${adminBase}/admin/trace?user=${d.user}`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` }, signal: AbortSignal.timeout(5000) });
        if (!res.ok) return;
        const body = (await res.json()) as { trace: Array<{ decision: string; reason: string; detail: string | null; at: number }> };
        const queued = body.trace.find((row) => row.decision === 'queued' && row.reason.startsWith('offline:'));
        if (queued) queuedAt.set(d.user, queued.at);
        // The job's due time (nextAttemptAt): later than queued by the collapse window, if any.
        const jobs = await fetch(`${adminBase}/admin/push-jobs?user=${d.user}`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` }, signal: AbortSignal.timeout(5000) });
        if (jobs.ok) {
          const job = ((await jobs.json()) as { jobs: Array<{ nextAttemptAt: number; attempts: number }> }).jobs[0];
          if (job) dueAt.set(d.user, job.nextAttemptAt);
        }
        for (const row of body.trace) {
          if (row.decision === 'retry' || row.decision === 'failed' || row.decision === 'cancelled') {
            const key = `${row.decision}: ${row.reason}${row.detail ? ` (${row.detail.slice(0, 120)})` : ''}`;
            traceProblems.set(key, (traceProblems.get(key) ?? 0) + 1);
          }
        }
      }));
    }

    const deadlineToPush: number[] = [];
    const deadlineToDetect: number[] = [];
    const detectToQueued: number[] = [];
    const queuedToDue: number[] = [];
    const dueToPush: number[] = [];
    let missing = 0;
    for (const d of measured) {
      const deadline = d.lastSentAt + HEARTBEAT.timeoutMs;
      const pushedAt = firstPush.get(d.token);
      const queued = queuedAt.get(d.user);
      const due = dueAt.get(d.user);
      if (queued !== undefined && due !== undefined) queuedToDue.push(due - queued);
      if (d.client.closedAt !== undefined) deadlineToDetect.push(d.client.closedAt - deadline);
      if (d.client.closedAt !== undefined && queued !== undefined) detectToQueued.push(queued - d.client.closedAt);
      if (pushedAt === undefined) {
        missing += 1;
        continue;
      }
      deadlineToPush.push(pushedAt - deadline);
      if (due !== undefined) dueToPush.push(pushedAt - due);
    }
    return {
      devices, measured: measured.length, excluded, setupRetries, pushed: measured.filter((d) => firstPush.has(d.token)).length, missing, rejected: rejectedCount, setupSec, traceProblems: Object.fromEntries(traceProblems),
      deadlineToPush: stats(deadlineToPush), deadlineToDetect: stats(deadlineToDetect),
      detectToQueued: stats(detectToQueued), queuedToDue: stats(queuedToDue), dueToPush: stats(dueToPush), collapseWindowMs: collapseWindow,
    };
  } finally {
    clearInterval(beat);
    sender?.close();
    for (const d of pool) d.client.close();
    await stopChild(server);
    await stopChild(fake);
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(`tools/bench/push: ${concurrency} streams in flight, ${warmup} s warm-up + ${seconds} s measured`
    + `${rounds > 1 ? ` × ${rounds} rounds (ceiling and node-apn alternate)` : ''}; fake APNs in a child process`);

  const throughput = args['skip-throughput'] ? undefined : await runThroughput();
  const vendorRates = benchVendors.length > 0 ? await runVendors(benchVendors as BenchVendor[]) : undefined;
  let e2e: E2eResult | undefined;
  if (!args['skip-e2e']) {
    console.log(`\ntimeout → push: ${devices} devices, heartbeat ${HEARTBEAT.intervalMs}/${HEARTBEAT.timeoutMs} ms, push.pollMs ${PUSH_POLL_MS}, storage.synchronous ${synchronous}; all go silent at once`);
    e2e = await runE2e();
    printTable([
      ['', 'p50 ms', 'p99 ms', 'max ms', 'n'],
      ['deadline → fake received push', fmt(e2e.deadlineToPush.p50, 0), fmt(e2e.deadlineToPush.p99, 0), fmt(e2e.deadlineToPush.max, 0), String(e2e.deadlineToPush.n)],
      ['  deadline → server dropped socket', fmt(e2e.deadlineToDetect.p50, 0), fmt(e2e.deadlineToDetect.p99, 0), fmt(e2e.deadlineToDetect.max, 0), String(e2e.deadlineToDetect.n)],
      ['  dropped socket → push queued (trace)', fmt(e2e.detectToQueued.p50, 0), fmt(e2e.detectToQueued.p99, 0), fmt(e2e.detectToQueued.max, 0), String(e2e.detectToQueued.n)],
      ['  push queued → due (collapse window)', fmt(e2e.queuedToDue.p50, 0), fmt(e2e.queuedToDue.p99, 0), fmt(e2e.queuedToDue.max, 0), String(e2e.queuedToDue.n)],
      ['  due → fake received', fmt(e2e.dueToPush.p50, 0), fmt(e2e.dueToPush.p99, 0), fmt(e2e.dueToPush.max, 0), String(e2e.dueToPush.n)],
    ]);
    console.log(`detection granularity: the heartbeat scan runs every ${SCAN_EVERY_MS} ms (min(1000, timeoutMs/4)), so 0–${SCAN_EVERY_MS} ms`
      + ` (~${SCAN_EVERY_MS / 2} ms on average) of "deadline → dropped" is waiting for the next scan`);
    console.log(`collapse window: push.collapseWindowMs = ${e2e.collapseWindowMs ?? 'n/a'}; message pushes are held that long on purpose (PAY-4)`
      + `, which is "queued → due"; --collapse-window-ms 0 measures without it`);
    console.log(`pushed ${e2e.pushed}/${e2e.measured} measured devices${e2e.missing > 0 ? `, MISSING ${e2e.missing}` : ''}`
      + `${e2e.rejected > 0 ? `, rejected by the fake ${e2e.rejected}` : ''}; setup ${e2e.setupSec.toFixed(1)} s`
      + `${e2e.excluded > 0 ? `; ${e2e.excluded} devices EXCLUDED (dropped by the server after their message, before T)` : ''}`
      + `${e2e.setupRetries > 0 ? `; ${e2e.setupRetries} devices re-connected during setup (dropped by the heartbeat check)` : ''}`);
    if (Object.keys(e2e.traceProblems).length > 0) console.log(`push trace (retries/failures): ${JSON.stringify(e2e.traceProblems)}`);
  }

  if (args.json) {
    console.log(JSON.stringify({
      bench: 'push', concurrency, seconds, warmup, rounds,
      ...(throughput ?? {}),
      ...(vendorRates ? { vendors: vendorRates } : {}),
      ...(e2e ? {
        timeoutToPush: {
          devices: e2e.devices, heartbeat: HEARTBEAT, scanEveryMs: SCAN_EVERY_MS, pushPollMs: PUSH_POLL_MS, synchronous,
          measured: e2e.measured, excluded: e2e.excluded, setupRetries: e2e.setupRetries, pushed: e2e.pushed, missing: e2e.missing, rejected: e2e.rejected, traceProblems: e2e.traceProblems,
          deadlineToPushMs: e2e.deadlineToPush, deadlineToDetectMs: e2e.deadlineToDetect,
          collapseWindowMs: e2e.collapseWindowMs ?? null,
          detectToQueuedMs: e2e.detectToQueued, queuedToDueMs: e2e.queuedToDue, dueToPushMs: e2e.dueToPush,
        },
      } : {}),
    }));
  }
}

/** (a) and (b), printed; returns their figures for --json. */
async function runThroughput(): Promise<Record<string, unknown>> {
  const fakeNodeArgs = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];
  const fake = await startChild('./lib/fake-apns-process.ts', ['--config', fakeConfig(false)], 'fake APNs', fakeNodeArgs);
  const ready = fake.ready as unknown as FakeReady;
  const ceiling = newLoad();
  const client = newLoad();
  try {
    for (let round = 0; round < rounds; round++) {
      await runCeiling(ready, fake.pid, ceiling, round);
      await runProvider(ready, fake.pid, client, round);
    }
    const fakeCounts = await getJson<{ accepted: number; rejected: number; dropped: number }>(`${ready.controlUrl}/counts`);
    if (fakeCounts.rejected > 0 || fakeCounts.dropped > 0) console.log(`fake APNs counts: ${JSON.stringify(fakeCounts)}`);
  } finally {
    await stopChild(fake);
  }
  if (cpuProfDir) console.log(`  cpu profile of the fake APNs child: ${cpuProfDir}/CPU.*.cpuprofile`);

  const measured = seconds * rounds;
  const ceilingRate = ceiling.completed / measured;
  const clientRate = client.completed / measured;
  const ratio = ceilingRate > 0 ? clientRate / ceilingRate : 0;
  const ceilingLat = stats(ceiling.latencies);
  const clientLat = stats(client.latencies);
  const errorCount = (r: LoadResult) => [...r.errors.values()].reduce((a, b) => a + b, 0);

  // CPU per push (over the measured windows) is steadier than pushes/s on a machine with other load.
  const usPer = (cpuSec: number | undefined, r: LoadResult) => (cpuSec === undefined || r.completed === 0 ? Number.NaN : (cpuSec * 1e6) / r.completed);
  const ceilingUs = usPer(ceiling.clientCpuSec, ceiling);
  const clientUs = usPer(client.clientCpuSec, client);
  console.log('');
  printTable([
    ['', 'pushes/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'client cpu', 'fake cpu', 'client µs/push', 'fake µs/push'],
    ['raw http2 → fake (ceiling)', fmt(ceilingRate, 0), fmt(ceilingLat.p50, 2), fmt(ceilingLat.p99, 2), fmt(ceilingLat.max, 1), String(errorCount(ceiling)),
      pct(ceiling.clientCpuSec, ceiling.wallSec), pct(ceiling.fakeCpuSec, ceiling.wallSec), fmt(ceilingUs, 0), fmt(usPer(ceiling.fakeCpuSec, ceiling), 0)],
    ['ApnsProvider (node-apn) → fake', fmt(clientRate, 0), fmt(clientLat.p50, 2), fmt(clientLat.p99, 2), fmt(clientLat.max, 1), String(errorCount(client)),
      pct(client.clientCpuSec, client.wallSec), pct(client.fakeCpuSec, client.wallSec), fmt(clientUs, 0), fmt(usPer(client.fakeCpuSec, client), 0)],
  ]);
  console.log(`ratio node-apn/ceiling: ${ratio.toFixed(3)}× pushes/s; client CPU per push ${fmt(clientUs / ceilingUs, 2)}× the raw client's`);
  for (const [name, r] of [['ceiling', ceiling], ['node-apn', client]] as const) {
    if (r.errors.size > 0) console.log(`${name} errors: ${JSON.stringify(Object.fromEntries([...r.errors].slice(0, 5)))}`);
  }

  return {
    ceiling: { pushesPerSec: Math.round(ceilingRate), latencyMs: ceilingLat, errors: Object.fromEntries(ceiling.errors) },
    nodeApn: { pushesPerSec: Math.round(clientRate), latencyMs: clientLat, errors: Object.fromEntries(client.errors) },
    ratio, clientCpuUsPerPush: { ceiling: ceilingUs, nodeApn: clientUs },
  };
}

// ---------------------------------------------------------------------------------------------
// (d) the other vendors: our provider vs a raw HTTPS client, against the same fake

type OemCredential = { type: string } & Record<string, unknown>;

interface VendorsChildReady { oemCredentials: Record<BenchVendor, OemCredential>; controlUrl: string; pid: number }

/** The device token of push n for a vendor (Web Push: one of the fake's subscriptions). */
function oemToken(vendor: BenchVendor, n: number, subscriptions: FakeSubscription[]): string {
  if (vendor === 'webpush') return JSON.stringify(subscriptions[n % subscriptions.length]);
  const hex = (n % TOKENS).toString(16).padStart(32, '0');
  return vendor === 'oppo' ? `CN_${hex}` : vendor === 'vivo' ? `v2-${hex}` : `${vendor}-${hex}`;
}

const oemTarget = (vendor: BenchVendor, n: number, subscriptions: FakeSubscription[]): PushTarget => ({
  registration: vendor, token: oemToken(vendor, n, subscriptions), credential: `bench-${vendor}`, options: {},
});

const benchDeps = (): VendorDeps => {
  const state = new Map<string, string>();
  return { log: () => undefined, state: { get: async (k) => state.get(k), set: async (k, v) => void state.set(k, v) }, now: Date.now };
};

/** A POST over a keep-alive agent; resolves the status and the answer text (0 on a network error). */
function rawPost(agent: https.Agent, url: string, headers: Record<string, string>, body: string | Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const req = https.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(data.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: 0, text: '' }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, text: errorText(error) }));
    req.end(data);
  });
}

const jsonOf = (text: string): Record<string, any> => {
  try {
    return JSON.parse(text) as Record<string, any>;
  } catch {
    return {};
  }
};

/** An OAuth client_credentials token (Huawei, Honor). */
async function oauthToken(agent: https.Agent, url: string, clientId: string, clientSecret: string): Promise<string> {
  const res = await rawPost(agent, url, { 'content-type': 'application/x-www-form-urlencoded' },
    new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString());
  const token = jsonOf(res.text).access_token;
  if (typeof token !== 'string') throw new Error(`oauth token: HTTP ${res.status} ${res.text.slice(0, 200)}`);
  return token;
}

/** ES256 VAPID JWT for one push service origin (RFC 8292), signed once for the whole run. */
function vapidJwt(origin: string, subject: string, privateKeyB64: string, publicKeyB64: string): string {
  const pub = Buffer.from(publicKeyB64, 'base64url');
  const key = { kty: 'EC', crv: 'P-256', d: privateKeyB64, x: pub.subarray(1, 33).toString('base64url'), y: pub.subarray(33, 65).toString('base64url') };
  const header = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256' })).toString('base64url');
  const claims = Buffer.from(JSON.stringify({ aud: origin, exp: Math.floor(Date.now() / 1000) + 12 * 3600, sub: subject })).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key, format: 'jwk', dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${header}.${claims}.${signature}`;
}

const PLACEHOLDER_ID = '00000000-0000-4000-8000-000000000000';

/**
 * The raw client of one vendor: everything that can be is prepared once (auth token, bodies per
 * token); per push only what the vendor requires to differ (a fresh id, Web Push's encryption).
 */
async function rawSender(vendor: BenchVendor, credential: OemCredential, subscriptions: FakeSubscription[], agent: https.Agent): Promise<SendOne> {
  const now = Date.now();
  const message = (n: number): PushMessage => ({ ...templateMessage(), id: n < 0 ? PLACEHOLDER_ID : randomUUID() });
  const ok = (res: { status: number; text: string }, good: (body: Record<string, any>) => boolean) =>
    (res.status >= 200 && res.status < 300 && good(jsonOf(res.text)) ? null : `HTTP ${res.status} ${res.text.slice(0, 120)}`);
  switch (vendor) {
    case 'huawei': {
      const c = credential as unknown as HuaweiCredential;
      const authorization = `Bearer ${await oauthToken(agent, c.endpoints!.authUrl!, c.appId, c.appSecret)}`;
      const built = Array.from({ length: TOKENS }, (_, i) => buildHuaweiRequest(c, oemTarget(vendor, i, subscriptions), message(i), now));
      return async (n) => {
        const b = built[n % TOKENS]!;
        if (!b.ok) return 'build failed';
        return ok(await rawPost(agent, b.request.url, { ...b.request.headers, authorization }, b.request.bodyText), (j) => j.code === '80000000');
      };
    }
    case 'honor': {
      const c = credential as unknown as HonorCredential;
      const authorization = `Bearer ${await oauthToken(agent, c.endpoints!.authUrl!, c.clientId, c.clientSecret)}`;
      const built = Array.from({ length: TOKENS }, (_, i) => buildHonorRequest(c, oemTarget(vendor, i, subscriptions), message(i), now));
      return async (n) => {
        const b = built[n % TOKENS]!;
        if (!b.ok) return 'build failed';
        // The timestamp header is the send time.
        return ok(await rawPost(agent, b.request.url, { ...b.request.headers, timestamp: String(Date.now()), authorization }, b.request.bodyText), (j) => j.code === 200);
      };
    }
    case 'xiaomi': {
      const c = credential as unknown as XiaomiCredential;
      const built = Array.from({ length: TOKENS }, (_, i) => buildXiaomiRequest(c, oemTarget(vendor, i, subscriptions), message(i), now));
      return async (n) => {
        const b = built[n % TOKENS]!;
        return ok(await rawPost(agent, b.request.url, { ...b.request.headers, authorization: `key=${c.appSecret}` }, b.request.bodyText), (j) => j.code === 0);
      };
    }
    case 'oppo': {
      const c = credential as unknown as OppoCredential;
      const { authUrl, pushUrl } = oppoUrls(c);
      const auth = await rawPost(agent, authUrl, { 'content-type': 'application/x-www-form-urlencoded' }, oppoAuthForm(c.appKey, c.masterSecret, Date.now()));
      const authToken = jsonOf(auth.text).data?.auth_token as string;
      if (!authToken) throw new Error(`oppo auth: ${auth.text.slice(0, 200)}`);
      // OPPO pushes one app_message_id once: a fresh one per push, substituted into the pre-built form.
      const forms = Array.from({ length: TOKENS }, (_, i) => {
        const b = buildOppoMessage(oemTarget(vendor, i, subscriptions), message(-1), { channelId: String(c.channelId) }, now);
        if (!b.ok) throw new Error('oppo message does not build');
        return oppoUnicastForm(authToken, b.message);
      });
      return async (n) => ok(await rawPost(agent, pushUrl, { 'content-type': 'application/x-www-form-urlencoded' }, forms[n % TOKENS]!.replace(PLACEHOLDER_ID, randomUUID())), (j) => j.code === 0);
    }
    case 'vivo': {
      const c = credential as unknown as VivoCredential;
      const { authUrl, pushUrl } = vivoUrls(c);
      const auth = await rawPost(agent, authUrl, { 'content-type': 'application/json' }, vivoAuthBody(c.appId, c.appKey, c.appSecret, Date.now()));
      const authToken = jsonOf(auth.text).authToken as string;
      if (!authToken) throw new Error(`vivo auth: ${auth.text.slice(0, 200)}`);
      // vivo de-duplicates by requestId: a fresh one per push.
      const bodies = Array.from({ length: TOKENS }, (_, i) => {
        const b = buildVivoSend(oemTarget(vendor, i, subscriptions), message(-1), { appId: c.appId, pushMode: VIVO_PUSH_MODE.production }, now);
        if (!b.ok) throw new Error('vivo body does not build');
        return JSON.stringify(b.body);
      });
      return async (n) => ok(await rawPost(agent, pushUrl, { 'content-type': 'application/json', [VIVO_AUTH_HEADER]: authToken }, bodies[n % TOKENS]!.replace(PLACEHOLDER_ID, randomUUID())), (j) => j.result === 0);
    }
    case 'webpush': {
      const c = credential as unknown as WebPushCredential;
      const built = buildWebPush(message(0), now);
      if (!built.ok) throw new Error('web push payload does not build');
      const plaintext = Buffer.from(built.json);
      const origin = new URL(subscriptions[0]!.endpoint).origin;
      const authorization = `vapid t=${vapidJwt(origin, c.subject, c.privateKey, c.publicKey)}, k=${c.publicKey}`;
      const headers = { 'content-type': 'application/octet-stream', 'content-encoding': 'aes128gcm', ttl: String(built.options.TTL), urgency: built.options.urgency, authorization };
      return async (n) => {
        const sub = subscriptions[n % subscriptions.length]!;
        const res = await rawPost(agent, sub.endpoint, headers, encryptAes128gcm(plaintext, sub));
        return res.status === 201 ? null : `HTTP ${res.status} ${res.text.slice(0, 120)}`;
      };
    }
  }
}

interface VendorRate { provider: number; raw: number; ratio: number; providerP50Ms: number; rawP50Ms: number; errors: { provider: number; raw: number } }

/** (d) for each vendor: our provider, then the raw client, alternating `rounds` times. */
async function runVendors(list: BenchVendor[]): Promise<Record<string, VendorRate>> {
  const fakes = await startChild('../load/vendors-child.ts', ['--count-only'], 'fake vendors');
  const ready = fakes.ready as unknown as VendorsChildReady;
  const subscriptions = (await getJson<{ subscriptions: FakeSubscription[] }>(`${ready.controlUrl}/subscriptions?n=${TOKENS}`)).subscriptions;
  const out: Record<string, VendorRate> = {};
  const rows: string[][] = [['', 'provider pushes/s', 'raw https pushes/s', 'ratio', 'provider p50 ms', 'raw p50 ms', 'errors (provider/raw)']];
  console.log(`\nother vendors: ${concurrency} in flight, our provider vs a raw node:https client (keep-alive), same fake (child process)`);
  try {
    for (const vendor of list) {
      const credential = ready.oemCredentials[vendor];
      const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: (credential.endpoints as { ca: string }).ca });
      const ours = newLoad();
      const raw = newLoad();
      const provider: PushProvider = vendorOfType(credential.type)!.create(`bench-${vendor}`, credential as never, benchDeps());
      try {
        const template = templateMessage();
        const viaProvider: SendOne = async (n) => {
          const outcome = await provider.send(oemTarget(vendor, n, subscriptions), { ...template, id: randomUUID() });
          return outcome.status === 'delivered' ? null : `${outcome.status}: ${'reason' in outcome ? outcome.reason.slice(0, 120) : ''}`;
        };
        const viaRaw = await rawSender(vendor, credential, subscriptions, agent);
        for (let round = 0; round < rounds; round++) {
          await profiled(`${vendor}-provider-r${round}`, () => closedLoop(viaProvider, fakes.pid, ours));
          await profiled(`${vendor}-raw-r${round}`, () => closedLoop(viaRaw, fakes.pid, raw));
        }
      } finally {
        await provider.close();
        agent.destroy();
        closeVendorAgents();
      }
      const measured = seconds * rounds;
      const errors = (r: LoadResult) => [...r.errors.values()].reduce((a, b) => a + b, 0);
      const rate: VendorRate = {
        provider: Math.round(ours.completed / measured), raw: Math.round(raw.completed / measured),
        ratio: raw.completed > 0 ? ours.completed / raw.completed : 0,
        providerP50Ms: stats(ours.latencies).p50, rawP50Ms: stats(raw.latencies).p50, errors: { provider: errors(ours), raw: errors(raw) },
      };
      out[vendor] = rate;
      rows.push([vendor, fmt(rate.provider, 0), fmt(rate.raw, 0), `${rate.ratio.toFixed(3)}×`, fmt(rate.providerP50Ms, 2), fmt(rate.rawP50Ms, 2), `${rate.errors.provider}/${rate.errors.raw}`]);
      for (const [name, r] of [['provider', ours], ['raw', raw]] as const) {
        if (r.errors.size > 0) console.log(`  ${vendor} ${name} errors: ${JSON.stringify(Object.fromEntries([...r.errors].slice(0, 3)))}`);
      }
    }
  } finally {
    await stopChild(fakes);
  }
  printTable(rows);
  return out;
}

try {
  await main();
} catch (error) {
  console.error(`tools/bench/push failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const child of children) await child.stop(2000);
  clearTimeout(watchdog);
}
