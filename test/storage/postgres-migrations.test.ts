/**
 * PostgreSQL migrations: from an empty database; from the previous version (a 0001–0004 schema
 * holding data, migrated to the latest, keeps it); and two processes (`tidings migrate`) starting
 * at once on an empty database, which take turns on the migration lock and both succeed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { openStore } from '../../storage/index.ts';
import { openPostgresDatabase } from '../../storage/postgres/postgres-database.ts';
import { PostgresMigrationProvider } from '../../storage/postgres/migrations.ts';
import { CodeMigrationProvider } from '../../storage/sqlite/migrations.ts';
import { createPgDatabase, TEST_DIALECT, TEST_DIALECTS } from '../helpers/dialects.ts';

const skip = TEST_DIALECTS.includes('postgres') || TEST_DIALECT === 'postgres' ? false : 'PostgreSQL is not among TIDINGS_TEST_DIALECTS';
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ALL = ['0001_event_log', '0002_push', '0003_calls', '0004_push_settings', '0005_push_vendor_registry',
  '0006_group_roles', '0007_push_collapsed_count', '0008_sync_badges', '0009_inbox_by_user_event', '0010_inbox_by_seq_only',
  '0011_compact_inbox', '0012_compact_inbox_shared'];

test('migrations: PostgreSQL has the same migrations, by name, as SQLite', async () => {
  const pg = Object.keys(await new PostgresMigrationProvider().getMigrations()).sort();
  const lite = Object.keys(await new CodeMigrationProvider().getMigrations()).sort();
  assert.deepEqual(pg, lite);
  assert.deepEqual(pg, ALL);
});
const OPTIONS = { maxGroupMembers: 100, maxBatch: 100 };

test('migrations (postgres): an empty database is migrated to the latest version', { skip }, async () => {
  const database = await createPgDatabase();
  try {
    const store = await openStore({ dialect: 'postgres', url: database.url }, OPTIONS);
    try {
      const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(store.db);
      assert.deepEqual(rows.map((r) => r.name), ALL);
      const sent = await store.log.append({ kind: 'message', sender: 'a', peer: 'b', conversation: 'p:a:b', clientMsgId: 'c1', data: { text: 'x' } });
      assert.equal(sent.event.eventId, 1);
    } finally {
      await store.close();
    }
  } finally {
    await database.drop();
  }
});

test('migrations (postgres): a 0001–0004 database with data migrates to the latest and keeps it', { skip }, async () => {
  const database = await createPgDatabase();
  try {
    const old = await openPostgresDatabase({ dialect: 'postgres', url: database.url }, '0004_push_settings');
    const db = old.db;
    // What a server at 0004 had written: a group, a message in both inboxes, a binding with the
    // then APNs columns, a push job with its apns_id, settings and a live call.
    await sql`INSERT INTO events (id, kind, conversation, sender, client_msg_id, message_id, at, json) VALUES
      (1, 'group_created', 'g:g1', 'alice', NULL, NULL, 1000, '{"eventId":1,"kind":"group_created","from":"alice","at":1000,"conversation":"g:g1","groupId":"g1","name":"One","members":["alice","bob"]}'),
      (2, 'message', 'p:alice:bob', 'alice', 'c1', 'm1', 1001, '{"eventId":2,"kind":"message","from":"alice","at":1001,"conversation":"p:alice:bob","messageId":"m1","clientMsgId":"c1","to":{"user":"bob"},"content":{"type":"text","text":"hi"}}')`.execute(db);
    await sql`SELECT setval('events_id_seq', 2)`.execute(db);
    await sql`INSERT INTO inbox VALUES ('alice', 1, 1, 'g:g1', 0), ('bob', 1, 1, 'g:g1', 0), ('alice', 2, 2, 'p:alice:bob', 0), ('bob', 2, 2, 'p:alice:bob', 1)`.execute(db);
    await sql`INSERT INTO user_heads VALUES ('alice', 2), ('bob', 2)`.execute(db);
    await sql`INSERT INTO groups VALUES ('g1', 'One', 'alice', 1)`.execute(db);
    await sql`INSERT INTO group_members VALUES ('g1', 'alice', 1), ('g1', 'bob', 1)`.execute(db);
    await sql`INSERT INTO conversation_state VALUES ('bob', 'p:alice:bob', 0, 1, 2), ('alice', 'p:alice:bob', 0, 0, 2), ('alice', 'g:g1', 0, 0, 1), ('bob', 'g:g1', 0, 0, 1)`.execute(db);
    await sql`INSERT INTO push_bindings (push_id, user_id, device_id, provider, token, credential, environment, topic, active, created_at, updated_at)
      VALUES ('pid_bob', 'bob', 'bob-phone', 'apns', 'ab', 'ios', 'development', 'com.example.app', 1, 1, 1),
             ('pid_bob_fcm', 'bob', 'bob-phone', 'fcm', 'cd', 'android', NULL, NULL, 1, 1, 1)`.execute(db);
    await sql`INSERT INTO push_jobs (job_key, push_id, user_id, device_id, event_id, seq, conversation, kind, apns_id, state, next_attempt_at, created_at, updated_at)
      VALUES ('pid_bob:2', 'pid_bob', 'bob', 'bob-phone', 2, 2, 'p:alice:bob', 'message', 'APNS-ID-1', 'pending', 0, 1, 1)`.execute(db);
    await sql`INSERT INTO user_settings VALUES ('bob', 'Bob', 'summary', NULL, NULL, NULL, 1, 1)`.execute(db);
    await old.close();

    const store = await openStore({ dialect: 'postgres', url: database.url }, OPTIONS);
    try {
      const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(store.db);
      assert.deepEqual(rows.map((r) => r.name), ALL);
      assert.deepEqual((await store.push.bindingByPushId('pid_bob'))?.options, { environment: 'development', topic: 'com.example.app' });
      assert.deepEqual((await store.push.bindingByPushId('pid_bob_fcm'))?.options, {});
      const binding = await store.db.selectFrom('push_bindings').select('options').where('push_id', '=', 'pid_bob').executeTakeFirstOrThrow();
      assert.equal(binding.options, '{"environment":"development","topic":"com.example.app"}', 'the canonical text the store writes');
      const [job] = await store.push.jobs({ userId: 'bob' }, 10);
      assert.equal(job?.idempotencyKey, 'APNS-ID-1');
      assert.equal((await store.push.claimDue(Date.now(), 10, 60_000)).length, 1, 'the migrated job is claimable (lease_until defaulted)');
      assert.equal((await store.settings.get('bob')).displayName, 'Bob');
      assert.deepEqual(store.readModels.groupMembers('g1'), ['alice', 'bob']);
      // 0006: a group from before roles stays open to anyone and is owned by its creator.
      const group = await store.db.selectFrom('groups').select(['owner', 'join_policy']).where('group_id', '=', 'g1').executeTakeFirstOrThrow();
      assert.deepEqual(group, { owner: 'alice', join_policy: 'open' });
      const roles = await store.db.selectFrom('group_members').select(['user_id', 'role']).where('group_id', '=', 'g1').orderBy('user_id').execute();
      assert.deepEqual(roles, [{ user_id: 'alice', role: 'owner' }, { user_id: 'bob', role: 'member' }]);
      assert.equal((await store.settings.get('bob')).syncBadges, true, '0008: badge sync on by default');
      const indexes = await sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE tablename = 'inbox' ORDER BY indexname`.execute(store.db);
      assert.deepEqual(indexes.rows.map((r) => r.indexname), ['inbox_pkey'], '0012: the inbox by its key only (0009\'s index by user and event is gone)');
      assert.deepEqual((await store.log.readInbox('bob', 0, 10)).map((e) => e.event.messageId ?? e.event.kind), ['group_created', 'm1']);
      assert.equal(await store.readModels.totalUnread('bob'), 1);
      // The log carries on where it was: ids after the old ones, seqs after the old heads, resends found.
      const next = await store.log.append({ kind: 'message', sender: 'bob', peer: 'alice', conversation: 'p:alice:bob', clientMsgId: 'c2', data: { text: 'yo' } });
      assert.equal(next.event.eventId, 3);
      assert.deepEqual([...next.seqs].sort(), [['alice', 3], ['bob', 3]]);
      const again = await store.log.append({ kind: 'message', sender: 'alice', peer: 'bob', conversation: 'p:alice:bob', clientMsgId: 'c1', data: { text: 'hi' } });
      assert.equal(again.duplicate, true);
      assert.equal(again.event.eventId, 2);
    } finally {
      await store.close();
    }
  } finally {
    await database.drop();
  }
});

test('migrations (postgres): two processes starting at once on an empty database both come up; the schema is migrated once', { skip, timeout: 60_000 }, async () => {
  const database = await createPgDatabase();
  try {
    const env = { ...process.env, TIDINGS_STORAGE_DIALECT: 'postgres', TIDINGS_STORAGE_URL: database.url, TIDINGS_AUTH_SECRETS: 'test-secret-0123456789abcdef' };
    const migrateOnce = () => run(process.execPath, ['bin/tidings.mjs', 'migrate'], { cwd: ROOT, env, timeout: 45_000 });
    const outcomes = await Promise.allSettled([migrateOnce(), migrateOnce(), migrateOnce()]);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'fulfilled', outcome.status === 'rejected' ? String((outcome.reason as Error).message) : '');
      assert.match(outcome.status === 'fulfilled' ? outcome.value.stdout : '', /postgres:.* is migrated to the latest version/);
    }
    const store = await openStore({ dialect: 'postgres', url: database.url }, OPTIONS);
    try {
      const { rows } = await sql<{ name: string; n: number }>`SELECT name, count(*) AS n FROM kysely_migration GROUP BY name ORDER BY name`.execute(store.db);
      assert.deepEqual(rows.map((r) => [r.name, Number(r.n)]), ALL.map((name) => [name, 1]));
    } finally {
      await store.close();
    }
  } finally {
    await database.drop();
  }
});
