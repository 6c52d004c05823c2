/**
 * Helpers for the reliability tests (crash durability, graceful shutdown): a child-process server
 * that keeps its output and exit status, a device that tracks its own delivery cursor across
 * connections, and a read-only look at the database (the SQLite file, or the PostgreSQL database
 * writeChildConfig made for the data directory) once the server process is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { DeliveredEvent, Platform, ServerFrame } from '../../protocol/index.ts';
import { TestClient } from '../helpers/client.ts';
import { ADMIN_SECRET } from '../helpers/server.ts';
import { PG_DATABASE_FILE } from '../helpers/child-server.ts';
import { pgQuerySync } from '../helpers/dialects.ts';

const BIN = fileURLToPath(new URL('../../bin/tidings.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** A `tidings serve` process started through the real CLI. */
export interface Child {
  process: ChildProcess;
  url: string;
  httpUrl: string;
  startedAt: number;
  /** ms from spawn to "listening". */
  startupMs: number;
  exited: Promise<ChildExit>;
  output(): string;
  /** Send a signal and wait for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<ChildExit>;
  admin(path: string): Promise<Response>;
}

export async function startChild(configFile: string, startTimeoutMs = 30_000): Promise<Child> {
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // Keep reading both pipes for the whole life of the process so it never blocks on a full pipe.
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<ChildExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${startTimeoutMs} ms: ${out.slice(-2000)}`));
    }, startTimeoutMs);
    const onData = () => {
      const match = /listening on (ws:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${e.code}, signal ${e.signal}) before listening: ${out.slice(-2000)}`));
    });
  });
  const startedAt = Date.now();
  const httpUrl = url.replace(/^ws/, 'http');
  return {
    process: child, url, httpUrl, startedAt, startupMs: startedAt - spawnedAt, exited,
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    admin: (path) => fetch(`${httpUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } }),
  };
}

export interface Gap {
  connection: number;
  after: number;
  got: number;
  frame: string;
}

/**
 * A device that resumes with `sync {after: newest seq received}` on every connection, the
 * recommended client loop. Over all its connections it records every delivered event, events
 * delivered twice, and seq gaps (judged later against the inbox in the database).
 */
export class TrackedDevice {
  readonly user: string;
  readonly deviceId: string;
  readonly platform: Platform;
  /** Newest seq received over all connections. */
  cursor = 0;
  readonly events: Array<DeliveredEvent & { connection: number }> = [];
  readonly eventIds = new Set<number>();
  readonly duplicates: string[] = [];
  readonly gaps: Gap[] = [];
  readonly invalid: string[] = [];
  client: TestClient | undefined;
  connections = 0;
  readonly #ack: boolean;

  constructor(user: string, deviceId: string, options: { platform?: Platform; ack?: boolean } = {}) {
    this.user = user;
    this.deviceId = deviceId;
    this.platform = options.platform ?? 'android';
    this.#ack = options.ack ?? true;
  }

  get online(): boolean {
    return this.client !== undefined && this.client.closeCode === undefined && this.client.socket.readyState === this.client.socket.OPEN;
  }

  /** Connect, log in and sync from the cursor; resolves once live. */
  async connect(url: string, token: string): Promise<TestClient> {
    const client = await TestClient.connect(url);
    const connection = ++this.connections;
    this.client = client;
    client.socket.on('message', (data) => this.#onFrame(connection, data.toString()));
    await client.login(token, this.deviceId, this.platform);
    await client.sync(this.cursor, 20_000);
    if (this.#ack) {
      let acked = 0;
      const timer = setInterval(() => {
        if (this.cursor > acked && this.client === client && this.online) {
          acked = this.cursor;
          client.send({ type: 'ack', seq: acked });
        }
      }, 40);
      void client.closed.then(() => clearInterval(timer));
    }
    return client;
  }

  #onFrame(connection: number, text: string): void {
    const frame = JSON.parse(text) as ServerFrame;
    if (frame.type !== 'events' && frame.type !== 'sync_page') return;
    for (const event of frame.events) {
      if (event.seq <= this.cursor) {
        this.duplicates.push(`connection ${connection}: seq ${event.seq} (eventId ${event.eventId}, ${event.kind}) at or below cursor ${this.cursor}`);
        continue;
      }
      if (event.seq !== this.cursor + 1) this.gaps.push({ connection, after: this.cursor, got: event.seq, frame: frame.type });
      this.cursor = event.seq;
      if (this.eventIds.has(event.eventId)) this.duplicates.push(`connection ${connection}: eventId ${event.eventId} delivered again as seq ${event.seq}`);
      this.eventIds.add(event.eventId);
      this.events.push({ ...event, connection });
    }
  }

  messageIds(): string[] {
    return this.events.flatMap((e) => (e.kind === 'message' ? [e.messageId] : []));
  }
}

/** Everything a fresh device of `user` gets from `sync` after 0. */
export async function syncFresh(url: string, token: string, deviceId: string): Promise<{ events: DeliveredEvent[]; headSeq: number; invalid: string[] }> {
  const client = await TestClient.connect(url);
  try {
    await client.login(token, deviceId, 'web');
    const done = await client.sync(0, 20_000);
    return { events: [...client.events], headSeq: done.headSeq, invalid: [...client.invalid] };
  } finally {
    client.socket.terminate();
  }
}

export interface DbSnapshot {
  integrity: string[];
  /** user → inbox rows in seq order */
  inbox: Map<string, Array<{ seq: number; eventId: number; kind: string }>>;
  /** (sender, clientMsgId) → events rows */
  messages: Map<string, Array<{ id: number; messageId: string | null }>>;
  /** (user, eventId) pairs present more than once in inbox */
  duplicateInboxRows: Array<{ user: string; eventId: number; n: number }>;
  calls: Map<string, { state: string; invitees: Record<string, string> }>;
  jobs: Array<{ jobKey: string; userId: string; deviceId: string; eventId: number; state: string; apnsId: string; kind: string }>;
}

/**
 * The inbox with its runs spelled out (`entries`: user_id, seq, event_id), the same SQL on SQLite
 * and PostgreSQL, written here apart from storage/sql/compact-inbox.ts so that the audit does not
 * trust the code it audits: a row with `run_ord` holds its group's run events from that conv_ord
 * on, one seq each, up to the user's next row, or to the group's newest one for the user's newest row.
 */
const INBOX_ENTRIES = `WITH rows AS (SELECT user_id, seq, event_id, conversation, run_ord,
    lead(seq) OVER (PARTITION BY user_id ORDER BY seq) AS next_seq FROM inbox),
  entries AS (SELECT user_id, seq, event_id FROM rows WHERE run_ord IS NULL
    UNION ALL
    SELECT r.user_id, r.seq + (g.conv_ord - r.run_ord), g.id FROM rows r JOIN events g ON g.conversation = r.conversation
      AND g.conv_ord >= r.run_ord AND (r.next_seq IS NULL OR g.conv_ord < r.run_ord + (r.next_seq - r.seq))
    WHERE r.run_ord IS NOT NULL)`;

/**
 * Look at the database after the server process exited: the SQLite file `file` (recovering its
 * WAL, as a restart would), or, when writeChildConfig gave its data directory a PostgreSQL
 * database, that database.
 */
export function inspectDatabase(file: string): DbSnapshot {
  const pg = join(dirname(file), PG_DATABASE_FILE);
  if (existsSync(pg)) return inspectPostgres((JSON.parse(readFileSync(pg, 'utf8')) as { url: string }).url);
  const db = new Database(file);
  try {
    const integrity = (db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
    const inbox = new Map<string, Array<{ seq: number; eventId: number; kind: string }>>();
    for (const row of db.prepare(`${INBOX_ENTRIES} SELECT i.user_id AS user, i.seq AS seq, i.event_id AS eventId, e.kind AS kind
      FROM entries i JOIN events e ON e.id = i.event_id ORDER BY i.user_id, i.seq`).all() as Array<{ user: string; seq: number; eventId: number; kind: string }>) {
      const list = inbox.get(row.user) ?? [];
      list.push({ seq: row.seq, eventId: row.eventId, kind: row.kind });
      inbox.set(row.user, list);
    }
    const messages = new Map<string, Array<{ id: number; messageId: string | null }>>();
    for (const row of db.prepare("SELECT id, sender, client_msg_id AS clientMsgId, message_id AS messageId FROM events WHERE kind = 'message'").all() as Array<{ id: number; sender: string; clientMsgId: string; messageId: string | null }>) {
      const key = `${row.sender}/${row.clientMsgId}`;
      messages.set(key, [...(messages.get(key) ?? []), { id: row.id, messageId: row.messageId }]);
    }
    const duplicateInboxRows = db.prepare(`${INBOX_ENTRIES} SELECT user_id AS user, event_id AS eventId, count(*) AS n FROM entries GROUP BY user_id, event_id HAVING count(*) > 1`).all() as Array<{ user: string; eventId: number; n: number }>;
    const calls = new Map<string, { state: string; invitees: Record<string, string> }>();
    for (const row of db.prepare('SELECT call_id AS callId, state, invitees FROM calls').all() as Array<{ callId: string; state: string; invitees: string }>) {
      calls.set(row.callId, { state: row.state, invitees: JSON.parse(row.invitees) as Record<string, string> });
    }
    const jobs = db.prepare('SELECT job_key AS jobKey, user_id AS userId, device_id AS deviceId, event_id AS eventId, state, idempotency_key AS apnsId, kind FROM push_jobs ORDER BY id').all() as DbSnapshot['jobs'];
    return { integrity, inbox, messages, duplicateInboxRows, calls, jobs };
  } finally {
    db.close();
  }
}

/**
 * The same snapshot from PostgreSQL, in one query. PostgreSQL has no integrity_check; what stands
 * in for it is the invariant the append transaction keeps: each user's user_heads row equals the
 * newest seq of their inbox (a head ahead of the inbox would be a seq gap for the next append),
 * read through the open run it names, which must be the one their newest row starts.
 */
function inspectPostgres(url: string): DbSnapshot {
  const [row] = pgQuerySync<{ snapshot: string }>(url, [`${INBOX_ENTRIES}, newest AS (
      SELECT r.user_id, r.conversation, r.run_ord FROM rows r WHERE r.next_seq IS NULL)
    SELECT json_build_object(
    'heads', (SELECT coalesce(json_agg(x), '[]') FROM (
      SELECT coalesce(h.user_id, i.user_id) AS "user", h.head, i.top FROM (SELECT user_id, h.head + coalesce((SELECT max(e.conv_ord) FROM events e WHERE e.conversation = h.run_conversation) - h.run_last_ord, 0) AS head FROM user_heads h) h
      FULL JOIN (SELECT user_id, max(seq) AS top FROM entries GROUP BY user_id) i ON i.user_id = h.user_id
      WHERE coalesce(h.head, 0) IS DISTINCT FROM coalesce(i.top, 0)) x),
    'runs', (SELECT coalesce(json_agg(x), '[]') FROM (
      SELECT h.user_id AS "user", h.run_conversation AS conversation, h.run_last_ord AS "lastOrd" FROM user_heads h LEFT JOIN newest n ON n.user_id = h.user_id
      WHERE h.run_conversation IS DISTINCT FROM (CASE WHEN n.run_ord IS NULL THEN NULL ELSE n.conversation END)) x),
    'inbox', (SELECT coalesce(json_agg(x ORDER BY x."user", x.seq), '[]') FROM (
      SELECT i.user_id AS "user", i.seq, i.event_id AS "eventId", e.kind FROM entries i JOIN events e ON e.id = i.event_id) x),
    'messages', (SELECT coalesce(json_agg(x ORDER BY x.id), '[]') FROM (
      SELECT id, sender, client_msg_id AS "clientMsgId", message_id AS "messageId" FROM events WHERE kind = 'message') x),
    'duplicates', (SELECT coalesce(json_agg(x), '[]') FROM (
      SELECT user_id AS "user", event_id AS "eventId", count(*) AS n FROM entries GROUP BY user_id, event_id HAVING count(*) > 1) x),
    'calls', (SELECT coalesce(json_agg(x), '[]') FROM (SELECT call_id AS "callId", state, invitees FROM calls) x),
    'jobs', (SELECT coalesce(json_agg(x ORDER BY x.id), '[]') FROM (
      SELECT id, job_key AS "jobKey", user_id AS "userId", device_id AS "deviceId", event_id AS "eventId", state,
        idempotency_key AS "apnsId", kind FROM push_jobs) x)
  )::text AS snapshot`]);
  type Raw = {
    heads: Array<{ user: string; head: number | null; top: number | null }>;
    runs: Array<{ user: string; conversation: string | null; lastOrd: number | null }>;
    inbox: Array<{ user: string; seq: number; eventId: number; kind: string }>;
    messages: Array<{ id: number; sender: string; clientMsgId: string; messageId: string | null }>;
    duplicates: Array<{ user: string; eventId: number; n: number }>;
    calls: Array<{ callId: string; state: string; invitees: string }>;
    jobs: Array<DbSnapshot['jobs'][number] & { id: number }>;
  };
  const raw = JSON.parse(row!.snapshot) as Raw;
  const problems = [
    ...raw.heads.map((h) => `user_heads of ${h.user} is ${h.head}, newest inbox seq ${h.top}`),
    ...raw.runs.map((r) => `user_heads of ${r.user} names the open run ${r.conversation} (at ${r.lastOrd}), which the inbox does not have`),
  ];
  const integrity = problems.length === 0 ? ['ok'] : problems;
  const inbox = new Map<string, Array<{ seq: number; eventId: number; kind: string }>>();
  for (const r of raw.inbox) inbox.set(r.user, [...(inbox.get(r.user) ?? []), { seq: r.seq, eventId: r.eventId, kind: r.kind }]);
  const messages = new Map<string, Array<{ id: number; messageId: string | null }>>();
  for (const r of raw.messages) {
    const key = `${r.sender}/${r.clientMsgId}`;
    messages.set(key, [...(messages.get(key) ?? []), { id: r.id, messageId: r.messageId }]);
  }
  const calls = new Map(raw.calls.map((c) => [c.callId, { state: c.state, invitees: JSON.parse(c.invitees) as Record<string, string> }]));
  const jobs = raw.jobs.map(({ id: _id, ...job }) => job);
  return { integrity, inbox, messages, duplicateInboxRows: raw.duplicates, calls, jobs };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolve with `promise`, or with undefined after `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, sleep(ms).then(() => undefined)]);
}
