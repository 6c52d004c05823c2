import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * Versioned migrations, in code so they ship with the package and run at start.
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
      // LOG-2: one event per (sender, client message id).
      await sql`CREATE UNIQUE INDEX events_idempotency ON events (client_msg_id, sender) WHERE client_msg_id IS NOT NULL`.execute(db);
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
};

export class CodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}
