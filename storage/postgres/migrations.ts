import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * PostgreSQL's versioned migrations: the same tables, columns and meaning as SQLite's
 * (storage/sqlite/migrations.ts, same names), in PostgreSQL types. Ids, seqs and millisecond
 * times are BIGINT (read back as JS numbers, storage/postgres/postgres-database.ts); JSON is TEXT,
 * as on SQLite, so the shared SQL and the stored text are the same on both. One addition:
 * `user_heads`, each user's newest inbox seq (and since 0012 their open run), the row that the
 * append transaction locks and raises (docs/ARCHITECTURE.md, "PostgreSQL"). Never edit a released migration; add a new one.
 */
const migrations: Record<string, Migration> = {
  '0001_event_log': {
    async up(db: Kysely<any>) {
      // Event ids come from the table's sequence (events_id_seq), drawn in the append transaction.
      await sql`CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, conversation TEXT NOT NULL, sender TEXT NOT NULL,
        client_msg_id TEXT, message_id TEXT, at BIGINT NOT NULL, json TEXT NOT NULL)`.execute(db);
      // LOG-2: one event per (sender, client message id).
      await sql`CREATE UNIQUE INDEX events_idempotency ON events (sender, client_msg_id) WHERE client_msg_id IS NOT NULL`.execute(db);
      await sql`CREATE INDEX events_message_id ON events (message_id) WHERE message_id IS NOT NULL`.execute(db);
      await sql`CREATE TABLE inbox (
        user_id TEXT NOT NULL, seq BIGINT NOT NULL, event_id BIGINT NOT NULL, conversation TEXT NOT NULL, countable SMALLINT NOT NULL,
        PRIMARY KEY (user_id, seq))`.execute(db);
      await sql`CREATE INDEX inbox_by_conversation ON inbox (user_id, conversation, event_id)`.execute(db);
      // The per-user seq counter: equal to max(inbox.seq) of the user after every commit.
      await sql`CREATE TABLE user_heads (user_id TEXT PRIMARY KEY, head BIGINT NOT NULL)`.execute(db);
      await sql`CREATE TABLE groups (group_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_by TEXT NOT NULL, created_event_id BIGINT NOT NULL)`.execute(db);
      await sql`CREATE TABLE group_members (group_id TEXT NOT NULL, user_id TEXT NOT NULL, joined_event_id BIGINT NOT NULL,
        PRIMARY KEY (group_id, user_id))`.execute(db);
      await sql`CREATE TABLE conversation_state (user_id TEXT NOT NULL, conversation TEXT NOT NULL,
        read_event_id BIGINT NOT NULL, unread INTEGER NOT NULL, last_event_id BIGINT NOT NULL,
        PRIMARY KEY (user_id, conversation))`.execute(db);
      await sql`CREATE TABLE device_cursors (user_id TEXT NOT NULL, device_id TEXT NOT NULL, acked_seq BIGINT NOT NULL,
        updated_at BIGINT NOT NULL, PRIMARY KEY (user_id, device_id))`.execute(db);
    },
  },
  '0002_push': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE push_bindings (
        push_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, device_id TEXT NOT NULL, provider TEXT NOT NULL, token TEXT NOT NULL,
        credential TEXT NOT NULL, environment TEXT, topic TEXT, active INTEGER NOT NULL,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, UNIQUE (user_id, device_id, provider))`.execute(db);
      await sql`CREATE UNIQUE INDEX push_bindings_token ON push_bindings (provider, token)`.execute(db);
      await sql`CREATE INDEX push_bindings_device ON push_bindings (device_id)`.execute(db);
      await sql`CREATE TABLE push_jobs (
        id BIGSERIAL PRIMARY KEY, job_key TEXT NOT NULL UNIQUE, push_id TEXT NOT NULL, user_id TEXT NOT NULL,
        device_id TEXT NOT NULL, event_id BIGINT NOT NULL, seq BIGINT NOT NULL, conversation TEXT NOT NULL, kind TEXT NOT NULL,
        apns_id TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at BIGINT NOT NULL,
        last_reason TEXT, vendor_id TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX push_jobs_due ON push_jobs (state, next_attempt_at)`.execute(db);
      await sql`CREATE INDEX push_jobs_device ON push_jobs (device_id, state)`.execute(db);
      await sql`CREATE INDEX push_jobs_collapse ON push_jobs (push_id, conversation, state)`.execute(db);
      await sql`CREATE TABLE push_trace (
        id BIGSERIAL PRIMARY KEY, event_id BIGINT NOT NULL, message_id TEXT, user_id TEXT NOT NULL, device_id TEXT,
        push_id TEXT, decision TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT, at BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX push_trace_event ON push_trace (event_id)`.execute(db);
      await sql`CREATE INDEX push_trace_message ON push_trace (message_id) WHERE message_id IS NOT NULL`.execute(db);
      await sql`CREATE INDEX push_trace_user ON push_trace (user_id, at)`.execute(db);
    },
  },
  '0003_calls': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE calls (call_id TEXT PRIMARY KEY, inviter TEXT NOT NULL, state TEXT NOT NULL,
        invitees TEXT NOT NULL, deadline BIGINT NOT NULL, created_event_id BIGINT NOT NULL, updated_event_id BIGINT NOT NULL)`.execute(db);
      await sql`CREATE INDEX calls_ringing ON calls (deadline) WHERE state IN ('ringing', 'accepted')`.execute(db);
    },
  },
  '0004_push_settings': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE user_settings (user_id TEXT PRIMARY KEY, display_name TEXT, display_style TEXT NOT NULL,
        dnd_start INTEGER, dnd_end INTEGER, dnd_time_zone TEXT, push_enabled INTEGER NOT NULL, updated_at BIGINT NOT NULL)`.execute(db);
      await sql`CREATE TABLE user_mutes (user_id TEXT NOT NULL, conversation TEXT NOT NULL, PRIMARY KEY (user_id, conversation))`.execute(db);
      await sql`CREATE TABLE user_blocks (user_id TEXT NOT NULL, blocked TEXT NOT NULL, PRIMARY KEY (user_id, blocked))`.execute(db);
    },
  },
  '0005_push_vendor_registry': {
    async up(db: Kysely<any>) {
      await sql`ALTER TABLE push_bindings ADD COLUMN options TEXT NOT NULL DEFAULT '{}'`.execute(db);
      // The same canonical text as SQLite's json_group_object and the store's optionsText(): sorted keys, no spaces.
      await sql`UPDATE push_bindings SET options = '{' || concat_ws(',',
        CASE WHEN environment IS NOT NULL THEN '"environment":' || to_json(environment)::text END,
        CASE WHEN topic IS NOT NULL THEN '"topic":' || to_json(topic)::text END) || '}'`.execute(db);
      await sql`ALTER TABLE push_bindings DROP COLUMN environment`.execute(db);
      await sql`ALTER TABLE push_bindings DROP COLUMN topic`.execute(db);
      await sql`ALTER TABLE push_jobs RENAME COLUMN apns_id TO idempotency_key`.execute(db);
      await sql`CREATE TABLE push_vendor_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at BIGINT NOT NULL)`.execute(db);
      await sql`ALTER TABLE push_jobs ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0`.execute(db);
    },
  },
  '0006_group_roles': {
    async up(db: Kysely<any>) {
      // As SQLite's 0006: groups that exist already were open and stay open; the creator (or the
      // first remaining member by id) owns them.
      await sql`ALTER TABLE groups ADD COLUMN owner TEXT`.execute(db);
      await sql`ALTER TABLE groups ADD COLUMN join_policy TEXT NOT NULL DEFAULT 'invite'`.execute(db);
      await sql`ALTER TABLE groups ADD COLUMN dissolved_event_id BIGINT`.execute(db);
      await sql`UPDATE groups SET join_policy = 'open', owner = CASE
        WHEN EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = groups.group_id AND m.user_id = groups.created_by) THEN created_by
        ELSE (SELECT min(m.user_id) FROM group_members m WHERE m.group_id = groups.group_id) END`.execute(db);
      await sql`ALTER TABLE group_members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'`.execute(db);
      await sql`UPDATE group_members SET role = 'owner' WHERE user_id = (SELECT owner FROM groups g WHERE g.group_id = group_members.group_id)`.execute(db);
      await sql`CREATE TABLE group_join_requests (group_id TEXT NOT NULL, user_id TEXT NOT NULL, event_id BIGINT NOT NULL,
        PRIMARY KEY (group_id, user_id))`.execute(db);
    },
  },
  '0007_push_collapsed_count': {
    async up(db: Kysely<any>) {
      await sql`ALTER TABLE push_jobs ADD COLUMN collapsed INTEGER NOT NULL DEFAULT 1`.execute(db);
    },
  },
  '0008_sync_badges': {
    async up(db: Kysely<any>) {
      await sql`ALTER TABLE user_settings ADD COLUMN sync_badges INTEGER NOT NULL DEFAULT 1`.execute(db);
    },
  },
  '0009_inbox_by_user_event': {
    async up(db: Kysely<any>) {
      // As SQLite's 0009 (storage/sqlite/migrations.ts): each user's entries in event order.
      await sql`CREATE INDEX inbox_by_user_event ON inbox (user_id, event_id, conversation, countable)`.execute(db);
      await sql`DROP INDEX inbox_by_conversation`.execute(db);
    },
  },
  '0010_inbox_by_seq_only': {
    async up() {
      // SQLite's 0010 drops the index by event, which its one writer makes redundant. Here several
      // writers draw event ids and seqs, so the index stays (dialect.inboxByEvent); the version is
      // kept so that both dialects stand at the same one.
    },
  },
  '0011_compact_inbox': {
    async up(db: Kysely<any>) {
      // SQLite's 0011 lets one inbox row stand for a run of a group's messages, which needs its
      // one writer's memory of each user's newest row. Several writers here write one row per
      // recipient (dialect.compactInbox); the columns exist so that both dialects share one schema.
      await sql`ALTER TABLE events ADD COLUMN conv_ord BIGINT`.execute(db);
      await sql`ALTER TABLE inbox ADD COLUMN run_ord BIGINT`.execute(db);
    },
  },
  '0012_compact_inbox_shared': {
    async up(db: Kysely<any>) {
      // The compact inbox here too (SQLite's 0012 has nothing left to do): each user's open run
      // beside their head, under the lock every append takes; each group's run events by place.
      // Inbox entries are found by event over the key, as on SQLite, so the index by event goes.
      // Old rows and events stay as they are: plain rows, no conv_ord (a group's places start at 1).
      // All nodes of a cluster must run this version together: an older writer would not keep runs.
      await sql`ALTER TABLE user_heads ADD COLUMN run_conversation TEXT, ADD COLUMN run_last_ord BIGINT`.execute(db);
      await sql`CREATE UNIQUE INDEX events_by_conv_ord ON events (conversation, conv_ord) WHERE conv_ord IS NOT NULL`.execute(db);
      await sql`DROP INDEX inbox_by_user_event`.execute(db);
    },
  },
};

export class PostgresMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}
