import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { PLATFORMS } from '../../protocol/index.ts';

/**
 * The one config schema: types, defaults, validation, env var names and the README table
 * all come from here (test/config/readme-table.test.ts keeps the README in step).
 */
const int = (def: number, description: string, min = 0, max?: number) => Type.Integer({ default: def, minimum: min, ...(max !== undefined ? { maximum: max } : {}), description });
const str = (def: string, description: string) => Type.String({ default: def, description });
const policy = Type.Union([Type.Literal('multi'), Type.Literal('single')], { default: 'multi', description: '' });
const perPlatform = (platform: string) => ({ ...policy, description: `Devices per user on ${platform}: \`multi\` or \`single\` (a new login kicks the older one, AUTH-2).` });
const PLATFORM_NAMES: Record<(typeof PLATFORMS)[number], string> = { ios: 'iOS', android: 'Android', web: 'web', desktop: 'desktop' };

export const ConfigSchema = Type.Object({
  host: str('127.0.0.1', 'Interface to listen on (HTTP and WebSocket share one port).'),
  port: int(8080, 'TCP port; 0 picks a free one.'),
  publicUrl: Type.Optional(Type.String({ description: 'URL printed at start and used in docs; derived from host/port when unset.' })),
  dataDir: str('./data', 'Directory for the SQLite file and generated development secrets.'),
  transport: Type.Union([Type.Literal('ws'), Type.Literal('uws')], { default: 'ws', description: 'WebSocket implementation: `ws` (default) or `uws` (uWebSockets.js, optional dependency).' }),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'pino log level.' }),
  storage: Type.Object({
    dialect: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')], { default: 'sqlite', description: 'Storage backend: `sqlite` (one process owns a file) or `postgres` (several processes may share one database).' }),
    url: Type.Optional(Type.String({ description: 'PostgreSQL connection URL (`postgres://user:password@host:5432/tidings`); when empty, the usual PG* environment variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`) are used.' })),
    file: Type.Optional(Type.String({ description: 'SQLite file; defaults to `<dataDir>/tidings.db`.' })),
    synchronous: Type.Union([Type.Literal('FULL'), Type.Literal('NORMAL')], { default: 'FULL', description: 'SQLite `synchronous`: FULL survives power loss, NORMAL only process crashes.' }),
    maxBatch: int(1000, 'Most events committed in one group-commit transaction.', 1),
    maxAppendWaitMs: int(5000, 'Admission bound: while the oldest queued append has waited longer than this, new ones (sends, group changes, reads, calls) are refused `overloaded` (retryable, with `retryAfterMs`) instead of joining a queue that would only grow; 0 = no bound.', 0),
    writer: Type.Union([Type.Literal('thread'), Type.Literal('inline')], { default: 'thread', description: 'Where appends are written: `thread` (a worker thread with its own connection, so commits and fsync do not stall sockets, and on PostgreSQL a transaction\'s row locks are not held while its round trips wait for the event loop) or `inline` (on the event loop).' }),
    cacheSizeMb: int(64, 'SQLite page cache.', 1),
    cursorFlushMs: int(200, 'Longest an ack cursor waits for a commit to ride along with before it is written on its own.', 1),
  }, { default: {} }),
  cluster: Type.Object({
    engine: Type.Union([Type.Literal('memory'), Type.Literal('redis')], { default: 'memory', description: 'Presence, broker and controller engine: `memory` (one node, nothing to install) or `redis` (several nodes; needs `cluster.redis.url` and `storage.dialect` `postgres`).' }),
    nodeId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$', description: 'This node\'s id in the cluster; defaults to `<hostname>-<pid>`.' })),
    redis: Type.Object({
      url: Type.String({ default: 'redis://127.0.0.1:6379', description: 'Redis for the `redis` engine.' }),
      prefix: Type.String({ default: 'tidings:', description: 'Prefix of every Redis key and channel (several clusters can share a Redis).' }),
    }, { default: {} }),
    presenceTtlMs: int(30000, 'A node re-asserts its devices in the presence directory every third of this; a node that stops is presumed dead after it, and its devices offline.', 1000),
    sweepMs: int(1000, 'How often each node looks for work a dead node left: expired presence entries, overdue calls.', 100),
    chaosDropRate: Type.Number({ default: 0, minimum: 0, maximum: 1, description: 'Resilience tests only: the share of broker publications from other nodes this node drops on purpose.' }),
  }, { default: {} }),
  auth: Type.Object({
    secrets: Type.Array(Type.String({ minLength: 16 }), { default: [], description: 'HMAC app secrets, newest first; all verify, the first signs (rotation). Generated into `<dataDir>/dev-secrets.json` when empty.' }),
    clockSkewSec: int(60, 'Tolerance for token expiry and issue time.'),
    tokenTtlSec: int(86400, 'Lifetime of tokens minted by `tidings token`.', 1),
    requireDeviceClaim: Type.Boolean({ default: false, description: 'Refuse login tokens without a device-id claim (`dev`). A token that has one always logs in that device only.' }),
  }, { default: {} }),
  metrics: Type.Object({
    secret: Type.Optional(Type.String({ minLength: 16, description: 'Bearer secret for `GET /metrics`; public when unset (warned about at start when `host` is not loopback).' })),
  }, { default: {} }),
  admin: Type.Object({
    secret: Type.Optional(Type.String({ minLength: 16, description: 'Bearer secret for `/admin/*`; the admin API is off when unset (generated in dev mode).' })),
  }, { default: {} }),
  heartbeat: Type.Object({
    intervalMs: int(30000, 'Heartbeat interval the server asks clients to keep (ON-1).', 10),
    timeoutMs: int(90000, 'A device with no frame for this long is declared offline (ON-2).', 20),
  }, { default: {} }),
  sessions: Type.Object({
    ...Object.fromEntries(PLATFORMS.map((p) => [p, perPlatform(PLATFORM_NAMES[p])])) as Record<(typeof PLATFORMS)[number], typeof policy>,
  }, { default: {} }),
  limits: Type.Object({
    maxFrameBytes: int(65536, 'Largest accepted WebSocket frame; larger ones get `frame_too_large`.', 256),
    maxMessageBytes: int(16384, 'Largest message content (JSON bytes); larger gets `message_too_large`.', 16),
    framesPerSecond: int(50, 'Sustained frames per second per connection (token bucket).', 1),
    frameBurst: int(100, 'Burst size of the per-connection token bucket.', 1),
    abuseStrikes: int(20, 'Rate-limit errors on one connection before it is closed.', 1),
    abuseWindowMs: int(10000, 'Rate-limit errors count toward `abuseStrikes` within this window.', 1),
    maxGroupMembers: Type.Optional(Type.Integer({ minimum: 2, description: 'Largest group; defaults to 10000 on `sqlite` and 2000 on `postgres`, where each member still costs a locked row and an upsert per message (docs/ARCHITECTURE.md, "The compact inbox").' })),
    maxConnectionsPerUser: int(20, 'Concurrent connections per user.', 1),
    maxConnectionsPerIp: int(5000, 'Concurrent connections per remote address.', 1),
    maxBufferedBytes: int(4 * 1024 * 1024, 'A slow reader whose send buffer passes this is disconnected (LIM-1).', 1024),
    syncPageSize: int(200, 'Events per `sync_page` (SYNC-3); at most 1000, the protocol\'s cap.', 1, 1000),
    loginTimeoutMs: int(10000, 'A connection that has not logged in by then is closed.', 10),
    maxMutedConversations: int(1000, 'Muted conversations per user.', 0),
    maxBlockedUsers: int(1000, 'Blocked users per user.', 0),
    maxHttpBodyBytes: int(1024 * 1024, 'Largest HTTP request body (admin API).', 1024),
  }, { default: {} }),
  calls: Type.Object({
    defaultTimeoutSec: int(30, 'Ring time of an invitation that gives no timeout.', 1),
    maxTimeoutSec: int(120, 'Longest ring time a client may ask for.', 1),
    maxInvitees: int(16, 'Most invitees per call; at most 64, the protocol\'s cap.', 1, 64),
  }, { default: {} }),
  push: Type.Object({
    credentials: Type.Record(Type.String(), Type.Unknown(), { default: {}, description: 'Named vendor credentials (APNs p8/p12, FCM service account, …), each checked against its vendor\'s schema at start; see docs/PUSH.md. Empty = sandbox.' }),
    sandbox: Type.Boolean({ default: false, description: 'Record pushes instead of sending them (`GET /admin/pushes`); on automatically when no credentials are set.' }),
    sandboxMaxRecords: int(1000, 'Pushes the sandbox keeps in memory.', 1),
    concurrency: int(32, 'Pushes in flight to vendors at once.', 1),
    maxAttempts: int(8, 'Tries before a push job is dead-lettered.', 1),
    retryBaseMs: int(1000, 'First retry delay; doubles per attempt, with jitter.', 1),
    retryMaxMs: int(300000, 'Longest retry delay.', 1),
    replayLimit: int(200, 'Most pushes replayed when a device goes offline: the newest of its un-acked events that push (MSG-4).', 1),
    pollMs: int(250, 'How often the outbox is polled for due retries.', 5),
    claimLeaseMs: int(60000, 'A push job a dispatcher claimed is its own this long; if the process dies mid-send, another claims it after that.', 1000),
    triggerConcurrency: int(64, 'Pieces of push-trigger work (a device\'s offline replay, its online cancel, a batch of commits) run side by side; each device\'s own work stays in order.', 1),
    triggerRetryMs: int(600000, 'Push decisions that fail because the database or Redis is unreachable are retried (with the retry delays above) for this long, then given up and counted in `tidings_push_trigger_failures_total{gave_up="true"}`.', 0),
    startupGraceMs: int(90000, 'After start, devices that have not reconnected by then get their un-acked events pushed.', 0),
    traceRetentionHours: int(72, 'How long push decisions are kept for `why`.', 1),
    tracePruneEveryMs: int(60000, 'How often expired push decisions are deleted.', 1000),
    ttlSec: int(86400, 'How long a vendor keeps an undelivered push.', 0),
    defaultTitle: str('New message', 'Notification title when the sender gave none.'),
    defaultBody: str('You have a new message', 'Notification text when the sender gave none (privacy default).'),
    maxTokenLength: int(4096, 'Longest device push token accepted (stored form); at most 4096, the protocol\'s cap for string tokens.', 16, 4096),
    badgeUpdateWindowMs: int(1000, 'A read on one device updates the badge of the user\'s other offline devices (that were pushed for it) after this long, so a burst of reads is one silent push per device; 0 = at once.', 0),
    collapseWindowMs: int(1000, 'Message pushes wait this long so several for one device and conversation collapse into one (PAY-4); 0 = off.', 0),
  }, { default: {} }),
  shutdown: Type.Object({
    graceMs: int(10000, 'Longest a graceful shutdown waits for in-flight work before exiting.', 0),
    reconnectAfterMs: int(1000, 'Delay suggested to clients in the `reconnect` frame at shutdown.', 0),
  }, { default: {} }),
}, { additionalProperties: false });

/** `limits.maxGroupMembers` when unset: what each dialect's writer carries (docs/ARCHITECTURE.md, "The compact inbox"). */
export const DEFAULT_MAX_GROUP_MEMBERS = { sqlite: 10_000, postgres: 2_000 } as const;

type SchemaConfig = Static<typeof ConfigSchema>;

/** A validated config: every default applied, the dialect-dependent ones too. */
export type Config = SchemaConfig & { limits: SchemaConfig['limits'] & { maxGroupMembers: number } };

export interface ConfigLeaf {
  path: string;
  env: string;
  schema: TSchema;
}

/** Every settable leaf, with its env var name: `limits.maxFrameBytes` → TIDINGS_LIMITS_MAX_FRAME_BYTES. */
export function configLeaves(schema: TSchema = ConfigSchema, prefix = ''): ConfigLeaf[] {
  const out: ConfigLeaf[] = [];
  for (const [key, child] of Object.entries((schema as unknown as { properties: Record<string, TSchema> }).properties)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if ((child as { type?: string }).type === 'object' && (child as { properties?: unknown }).properties && !(child as { patternProperties?: unknown }).patternProperties) {
      out.push(...configLeaves(child, path));
    } else {
      const env = `TIDINGS_${path.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
      out.push({ path, env, schema: child });
    }
  }
  return out;
}
