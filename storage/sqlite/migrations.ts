import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * SQLite's versioned migrations, in code so they ship with the package and run at start.
 * Never edit a released migration; add a new one.
 */
const migrations: Record<string, Migration> = {
  '0001_event_log': {
    async up(db: Kysely<any>) {
      await db.schema.createTable('events')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('conversation', 'text', (c) => c.notNull())
        .addColumn('sender', 'text', (c) => c.notNull())
        .addColumn('client_msg_id', 'text')
        .addColumn('message_id', 'text')
        .addColumn('at', 'integer', (c) => c.notNull())
        .addColumn('json', 'text', (c) => c.notNull())
        .execute();
      // LOG-2: one event per (sender, client message id). Sender first: clients that number or
      // time-stamp their ids then append to a few hot pages instead of dirtying random ones.
      await sql`CREATE UNIQUE INDEX events_idempotency ON events (sender, client_msg_id) WHERE client_msg_id IS NOT NULL`.execute(db);
      await sql`CREATE INDEX events_message_id ON events (message_id) WHERE message_id IS NOT NULL`.execute(db);
      // Fan-out on write: each recipient's inbox is a dense per-user sequence (see docs/ARCHITECTURE.md).
      await sql`CREATE TABLE inbox (
        user_id TEXT NOT NULL, seq INTEGER NOT NULL, event_id INTEGER NOT NULL,
        conversation TEXT NOT NULL, countable INTEGER NOT NULL,
        PRIMARY KEY (user_id, seq)) WITHOUT ROWID`.execute(db);
      await sql`CREATE INDEX inbox_by_conversation ON inbox (user_id, conversation, event_id)`.execute(db);
      await sql`CREATE TABLE groups (group_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_by TEXT NOT NULL,
        created_event_id INTEGER NOT NULL) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE group_members (group_id TEXT NOT NULL, user_id TEXT NOT NULL, joined_event_id INTEGER NOT NULL,
        PRIMARY KEY (group_id, user_id)) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE conversation_state (user_id TEXT NOT NULL, conversation TEXT NOT NULL,
        read_event_id INTEGER NOT NULL, unread INTEGER NOT NULL, last_event_id INTEGER NOT NULL,
        PRIMARY KEY (user_id, conversation)) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE device_cursors (user_id TEXT NOT NULL, device_id TEXT NOT NULL, acked_seq INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, PRIMARY KEY (user_id, device_id)) WITHOUT ROWID`.execute(db);
    },
  },
  '0002_push': {
    async up(db: Kysely<any>) {
      // One row per (user, device, provider): device ids are chosen by clients, so a binding is
      // never shared across users. `active` is 1 while that user is logged in on that device (DEV-4).
      await sql`CREATE TABLE push_bindings (
        push_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL, provider TEXT NOT NULL, token TEXT NOT NULL,
        credential TEXT NOT NULL, environment TEXT, topic TEXT, active INTEGER NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (user_id, device_id, provider))`.execute(db);
      await sql`CREATE UNIQUE INDEX push_bindings_token ON push_bindings (provider, token)`.execute(db);
      await sql`CREATE INDEX push_bindings_device ON push_bindings (device_id)`.execute(db);
      // The durable outbox: job_key (push id + event id) makes every (device, event) push happen once (OPS-3).
      await sql`CREATE TABLE push_jobs (
        id INTEGER PRIMARY KEY, job_key TEXT NOT NULL UNIQUE, push_id TEXT NOT NULL, user_id TEXT NOT NULL,
        device_id TEXT NOT NULL, event_id INTEGER NOT NULL, seq INTEGER NOT NULL, conversation TEXT NOT NULL, kind TEXT NOT NULL, apns_id TEXT NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, last_reason TEXT, vendor_id TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`.execute(db);
      await sql`CREATE INDEX push_jobs_due ON push_jobs (state, next_attempt_at)`.execute(db);
      await sql`CREATE INDEX push_jobs_device ON push_jobs (device_id, state)`.execute(db);
      await sql`CREATE INDEX push_jobs_collapse ON push_jobs (push_id, conversation, state)`.execute(db);
      // Why a push did or did not happen, per (event, device) (OPS-2); bounded by retention.
      await sql`CREATE TABLE push_trace (
        id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, message_id TEXT, user_id TEXT NOT NULL, device_id TEXT,
        push_id TEXT, decision TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT, at INTEGER NOT NULL)`.execute(db);
      await sql`CREATE INDEX push_trace_event ON push_trace (event_id)`.execute(db);
      await sql`CREATE INDEX push_trace_message ON push_trace (message_id) WHERE message_id IS NOT NULL`.execute(db);
      await sql`CREATE INDEX push_trace_user ON push_trace (user_id, at)`.execute(db);
    },
  },
  '0003_calls': {
    async up(db: Kysely<any>) {
      // The call read model; `invitees` is a JSON object of per-invitee states.
      await sql`CREATE TABLE calls (call_id TEXT PRIMARY KEY, inviter TEXT NOT NULL, state TEXT NOT NULL,
        invitees TEXT NOT NULL, deadline INTEGER NOT NULL, created_event_id INTEGER NOT NULL, updated_event_id INTEGER NOT NULL) WITHOUT ROWID`.execute(db);
      await sql`CREATE INDEX calls_ringing ON calls (deadline) WHERE state IN ('ringing', 'accepted')`.execute(db);
    },
  },
  '0004_push_settings': {
    async up(db: Kysely<any>) {
      // Receiver push settings (SET-1..6): user configuration, not conversation history, so plain
      // tables rather than log events.
      await sql`CREATE TABLE user_settings (user_id TEXT PRIMARY KEY, display_name TEXT, display_style TEXT NOT NULL,
        dnd_start INTEGER, dnd_end INTEGER, dnd_time_zone TEXT, push_enabled INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE user_mutes (user_id TEXT NOT NULL, conversation TEXT NOT NULL, PRIMARY KEY (user_id, conversation)) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE user_blocks (user_id TEXT NOT NULL, blocked TEXT NOT NULL, PRIMARY KEY (user_id, blocked)) WITHOUT ROWID`.execute(db);
    },
  },
  '0005_push_vendor_registry': {
    async up(db: Kysely<any>) {
      // Vendor-specific registration fields (APNs environment and topic) move into one generic JSON
      // column, so a vendor adds fields without a migration of the generic tables.
      await sql`ALTER TABLE push_bindings ADD COLUMN options TEXT NOT NULL DEFAULT '{}'`.execute(db);
      await sql`UPDATE push_bindings SET options = (SELECT json_group_object(k, v) FROM (
        SELECT 'environment' AS k, environment AS v WHERE environment IS NOT NULL
        UNION ALL SELECT 'topic', topic WHERE topic IS NOT NULL))`.execute(db);
      await sql`ALTER TABLE push_bindings DROP COLUMN environment`.execute(db);
      await sql`ALTER TABLE push_bindings DROP COLUMN topic`.execute(db);
      // The job's idempotency key is every vendor's (apns-id, FCM data.pushId, vivo requestId, …).
      await sql`ALTER TABLE push_jobs RENAME COLUMN apns_id TO idempotency_key`.execute(db);
      // Small vendor state that must survive restarts (vivo's day-long auth token: its auth calls are capped per day).
      await sql`CREATE TABLE push_vendor_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`.execute(db);
      // A claim is a lease, so a dispatcher that dies mid-send does not hold its jobs forever.
      await sql`ALTER TABLE push_jobs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0`.execute(db);
    },
  },
  '0006_group_roles': {
    async up(db: Kysely<any>) {
      // Groups get an owner, admins and a join policy. Groups that exist already were open to
      // anyone, and stay open; their creator owns them (or, if the creator left, the first
      // remaining member by id: the rule rebuild applies to that history too).
      await sql`ALTER TABLE groups ADD COLUMN owner TEXT`.execute(db);
      await sql`ALTER TABLE groups ADD COLUMN join_policy TEXT NOT NULL DEFAULT 'invite'`.execute(db);
      await sql`ALTER TABLE groups ADD COLUMN dissolved_event_id INTEGER`.execute(db);
      await sql`UPDATE groups SET join_policy = 'open', owner = CASE
        WHEN EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.group_id AND m.user_id = groups.created_by) THEN created_by
        ELSE (SELECT min(m.user_id) FROM group_members m WHERE m.group_id = groups.group_id) END`.execute(db);
      await sql`ALTER TABLE group_members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'`.execute(db);
      await sql`UPDATE group_members SET role = 'owner' WHERE user_id = (SELECT owner FROM groups g WHERE g.group_id = group_members.group_id)`.execute(db);
      await sql`CREATE TABLE group_join_requests (group_id TEXT NOT NULL, user_id TEXT NOT NULL, event_id INTEGER NOT NULL,
        PRIMARY KEY (group_id, user_id)) WITHOUT ROWID`.execute(db);
    },
  },
  '0007_push_collapsed_count': {
    async up(db: Kysely<any>) {
      // A collapsed push keeps its count of messages when it is retried (PAY-4).
      await sql`ALTER TABLE push_jobs ADD COLUMN collapsed INTEGER NOT NULL DEFAULT 1`.execute(db);
    },
  },
  '0008_sync_badges': {
    async up(db: Kysely<any>) {
      // The per-user switch for silent badge updates after reads on another device (on by default).
      await sql`ALTER TABLE user_settings ADD COLUMN sync_badges INTEGER NOT NULL DEFAULT 1`.execute(db);
    },
  },
  '0009_inbox_by_user_event': {
    async up(db: Kysely<any>) {
      // Each user's entries in event order, like the primary key: a recipient's new entry lands
      // on that user's last index page, which the batch's other rows for them dirty anyway. Keyed
      // by (user, conversation, event) it landed on the page of its (user, conversation) pair, so
      // as users gathered conversations one batch dirtied more and more distinct pages
      // (docs/PERFORMANCE.md, session 5). Conversation and countable ride along so a read's
      // unread recount reads only the index.
      await sql`CREATE INDEX inbox_by_user_event ON inbox (user_id, event_id, conversation, countable)`.execute(db);
      await sql`DROP INDEX inbox_by_conversation`.execute(db);
    },
  },
  '0010_inbox_by_seq_only': {
    async up(db: Kysely<any>) {
      // This file's one writer hands out each user's seqs in event order, so the primary key
      // (user_id, seq) is in event order as well and finds entries by event (inbox-by-event.ts).
      // The second index cost every inbox row a second B-tree insert and a second dirty page per
      // recipient in each commit (docs/PERFORMANCE.md, session 8).
      await sql`DROP INDEX inbox_by_user_event`.execute(db);
    },
  },
  '0011_compact_inbox': {
    async up(db: Kysely<any>) {
      // Each group message's place in its group, so that one inbox row can stand for a run of a
      // group's messages (storage/sql/compact-inbox.ts). Rows written before stay one per entry.
      await sql`ALTER TABLE events ADD COLUMN conv_ord INTEGER`.execute(db);
      await sql`UPDATE events SET conv_ord = numbered.ord FROM (SELECT id, row_number() OVER (PARTITION BY conversation ORDER BY id) AS ord
        FROM events WHERE kind = 'message' AND substr(conversation, 1, 2) = 'g:') AS numbered WHERE events.id = numbered.id`.execute(db);
      await sql`CREATE UNIQUE INDEX events_by_conv_ord ON events (conversation, conv_ord) WHERE conv_ord IS NOT NULL`.execute(db);
      await sql`ALTER TABLE inbox ADD COLUMN run_ord INTEGER`.execute(db);
    },
  },
  '0012_compact_inbox_shared': {
    async up() {
      // PostgreSQL's 0012 gives its several writers the compact inbox that 0011 gave this file's
      // one writer (whose open runs live in its memory); the version is kept so that both
      // dialects stand at the same one.
    },
  },
};

export class CodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}
