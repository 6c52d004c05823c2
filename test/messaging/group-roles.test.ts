import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import SQLite from 'better-sqlite3';
import type { DeliveredEvent } from '../../protocol/index.ts';
import { openStore } from '../../storage/index.ts';
import { CodeMigrationProvider } from '../../storage/sqlite/migrations.ts';
import type { TestClient } from '../helpers/client.ts';
import { apnsTo, apnsToken, pushTestConfig, registerApns, settlePush, startPushEnv, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep, startTestServer } from '../helpers/server.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

const kinds = (c: TestClient, groupId: string) => c.events.filter((e) => 'groupId' in e && e.groupId === groupId).map((e) => e.kind);
const errorCode = (f: { type: string; code?: string }) => (f.type === 'error' ? f.code : f.type);

test('groups are invite-only by default: joining on your own is refused; the owner and admins add members', async () => {
  const t = await startTestServer();
  try {
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => t.connect(u)));
    await Promise.all([alice!.sync(), bob!.sync(), carol!.sync()]);
    await alice!.expect({ type: 'group_create', groupId: 'club', name: 'Club', members: ['bob'] }, 'group_created');
    assert.equal(errorCode(await carol!.request({ type: 'group_join', groupId: 'club' }) as never), 'group_invite_only');
    const info = await alice!.expect({ type: 'group_members', groupId: 'club' }, 'group_members_list');
    assert.deepEqual(info.roles, { alice: 'owner', bob: 'member' });
    assert.equal(info.joinPolicy, 'invite');
    assert.deepEqual(info.requests, []);
    assert.equal((await bob!.expect({ type: 'group_members', groupId: 'club' }, 'group_members_list')).requests, undefined, 'members do not see requests');
    await alice!.expect({ type: 'group_set_role', groupId: 'club', user: 'bob', role: 'admin' }, 'ok');
    // An admin invites; one invitee is already in: the others are added, the refusal is listed.
    const invited = await bob!.expect({ type: 'group_invite', groupId: 'club', users: ['carol', 'alice'] }, 'ok');
    assert.deepEqual(invited.failed, [{ user: 'alice', code: 'already_member' }]);
    await eventually(() => kinds(carol!, 'club').includes('member_joined'), 3000, 'carol hears she joined');
    const joined = carol!.events.find((e) => e.kind === 'member_joined')! as Extract<DeliveredEvent, { kind: 'member_joined' }>;
    assert.equal(joined.from, 'bob', 'from is the admin who invited her');
    await alice!.sendText({ group: 'club' }, 'welcome', 'w1');
    await eventually(() => carol!.events.some((e) => e.kind === 'message'), 3000, 'carol gets group messages');
  } finally {
    await t.stop();
  }
});

test('open groups take anyone; approval groups take requests the moderators approve or reject', async () => {
  const t = await startTestServer();
  try {
    const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map((u) => t.connect(u)));
    await Promise.all([alice!, bob!, carol!, dave!].map((c) => c.sync()));
    await alice!.expect({ type: 'group_create', groupId: 'square', name: 'Square', members: [], joinPolicy: 'open' }, 'group_created');
    await carol!.expect({ type: 'group_join', groupId: 'square' }, 'ok');
    await alice!.expect({ type: 'group_create', groupId: 'guild', name: 'Guild', members: ['bob'], joinPolicy: 'approval' }, 'group_created');
    await alice!.expect({ type: 'group_set_role', groupId: 'guild', user: 'bob', role: 'admin' }, 'ok');
    await carol!.expect({ type: 'group_join', groupId: 'guild' }, 'ok');
    await dave!.expect({ type: 'group_join', groupId: 'guild' }, 'ok');
    // The requesters and the moderators hear of the requests; nobody else, and no message reaches a requester.
    await eventually(() => kinds(bob!, 'guild').filter((k) => k === 'join_requested').length === 2, 3000, 'bob sees both requests');
    assert.deepEqual(kinds(carol!, 'guild'), ['join_requested']);
    assert.deepEqual((await alice!.expect({ type: 'group_members', groupId: 'guild' }, 'group_members_list')).requests, ['carol', 'dave']);
    await alice!.sendText({ group: 'guild' }, 'members only', 'g1');
    await bob!.expect({ type: 'group_approve', groupId: 'guild', user: 'carol' }, 'ok');
    await bob!.expect({ type: 'group_reject', groupId: 'guild', user: 'dave' }, 'ok');
    await eventually(() => kinds(dave!, 'guild').includes('join_rejected'), 3000, 'dave hears the rejection');
    await eventually(() => kinds(carol!, 'guild').includes('member_joined'), 3000, 'carol is in');
    assert.equal(carol!.events.some((e) => e.kind === 'message' && e.conversation === 'g:guild'), false, 'no history before joining');
    assert.equal(errorCode(await bob!.request({ type: 'group_approve', groupId: 'guild', user: 'dave' }) as never), 'no_join_request', 'a rejected request is gone');
    const info = await alice!.expect({ type: 'group_members', groupId: 'guild' }, 'group_members_list');
    assert.deepEqual(info.members, ['alice', 'bob', 'carol']);
    assert.deepEqual(info.requests, []);
  } finally {
    await t.stop();
  }
});

test('a removed member hears it, then gets nothing from the group: no events, no pushes', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob', 'bob-iphone');
    await Promise.all([alice.sync(), bob.sync()]);
    const token = apnsToken(7001);
    await registerApns(bob, token);
    await alice.expect({ type: 'group_create', groupId: 'crew', name: 'Crew', members: ['bob'] }, 'group_created');
    await alice.expect({ type: 'group_remove', groupId: 'crew', user: 'bob' }, 'ok');
    await eventually(() => kinds(bob, 'crew').includes('member_left'), 3000, 'bob hears his removal');
    const left = bob.events.find((e) => e.kind === 'member_left') as Extract<DeliveredEvent, { kind: 'member_left' }>;
    assert.equal(left.reason, 'removed');
    assert.equal(left.from, 'alice');
    await bob.terminate();
    await eventually(async () => !(await t.server.ctx.presence.isOnline('bob', 'bob-iphone')), 3000, 'bob offline');
    await alice.sendText({ group: 'crew' }, 'after bob', 'c1');
    await alice.sendText({ user: 'bob' }, 'but this reaches him', 'p1');
    await settlePush(t);
    await eventually(() => apnsTo(env.apnsDev, token).length >= 1, 5000, 'the peer message push');
    await sleep(300);
    const pushed = apnsTo(env.apnsDev, token).map((p) => (p.payload as { conversation?: string }).conversation);
    assert.deepEqual(pushed, ['p:alice:bob'], 'only the peer message, nothing from the group');
    const back = await t.connect('bob', 'bob-iphone');
    await back.sync(0);
    assert.equal(back.events.some((e) => e.kind === 'message' && e.conversation === 'g:crew'), false, 'nor by resync');
  } finally {
    await t.stop();
  }
});

test('ownership moves by transfer; the owner cannot leave before; a dissolved group is gone for good', async () => {
  const t = await startTestServer();
  try {
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((u) => t.connect(u)));
    await Promise.all([alice!.sync(), bob!.sync()]);
    await alice!.expect({ type: 'group_create', groupId: 'firm', name: 'Firm', members: ['bob'] }, 'group_created');
    assert.equal(errorCode(await alice!.request({ type: 'group_leave', groupId: 'firm' }) as never), 'group_owner_must_transfer');
    await alice!.expect({ type: 'group_transfer', groupId: 'firm', user: 'bob' }, 'ok');
    const info = await bob!.expect({ type: 'group_members', groupId: 'firm' }, 'group_members_list');
    assert.deepEqual(info.roles, { alice: 'admin', bob: 'owner' }, 'the old owner stays as an admin');
    await bob!.expect({ type: 'group_update', groupId: 'firm', name: 'Firm & Co', joinPolicy: 'open' }, 'ok');
    await alice!.expect({ type: 'group_leave', groupId: 'firm' }, 'ok');
    await bob!.expect({ type: 'group_dissolve', groupId: 'firm' }, 'ok');
    await eventually(() => kinds(bob!, 'firm').includes('group_dissolved'), 3000, 'dissolved');
    assert.deepEqual(kinds(bob!, 'firm'), ['group_created', 'member_role', 'group_updated', 'member_left', 'group_dissolved']);
    assert.equal(errorCode(await bob!.sendText({ group: 'firm' }, 'anyone?', 'x1') as never), 'group_not_found');
    assert.equal(errorCode(await alice!.request({ type: 'group_join', groupId: 'firm' }) as never), 'group_not_found');
    assert.equal(errorCode(await bob!.request({ type: 'group_create', groupId: 'firm', name: 'again', members: [] }) as never), 'group_exists', 'the id is not reused');
    // Every change is a log event: a fresh device resyncs the same story.
    const fresh = await t.connect('bob', 'bob-laptop');
    await fresh.sync(0);
    assert.deepEqual(kinds(fresh, 'firm'), kinds(bob!, 'firm'));
  } finally {
    await t.stop();
  }
});

test('LOG-2: resending a message committed before leaving its group is its duplicate ack', async () => {
  const t = await startTestServer();
  try {
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((u) => t.connect(u)));
    await alice!.expect({ type: 'group_create', groupId: 'g', name: 'G', members: ['bob'] }, 'group_created');
    const first = await bob!.sendText({ group: 'g' }, 'hello', 'b-1');
    assert.equal(first.type, 'send_ack');
    await bob!.expect({ type: 'group_leave', groupId: 'g' }, 'ok');
    const again = await bob!.sendText({ group: 'g' }, 'hello', 'b-1');
    assert.ok(again.type === 'send_ack' && first.type === 'send_ack');
    assert.equal(again.duplicate, true);
    assert.equal(again.eventId, first.eventId);
    assert.equal(errorCode(await bob!.sendText({ group: 'g' }, 'new one', 'b-2') as never), 'not_group_member', 'a new message is still refused');
  } finally {
    await t.stop();
  }
});

test('migration 0006: existing groups stay open, owned by their creator (or their first member by id if the creator left)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-migrate-'));
  const file = join(dir, 'tidings.db');
  try {
    const sqlite = new SQLite(file);
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
    const migrated = await new Migrator({ db, provider: new CodeMigrationProvider() }).migrateTo('0005_push_vendor_registry');
    assert.equal(migrated.error, undefined);
    await sql`INSERT INTO groups (group_id, name, created_by, created_event_id) VALUES ('old', 'Old', 'alice', 1), ('orphan', 'Orphan', 'zed', 2)`.execute(db);
    await sql`INSERT INTO group_members (group_id, user_id, joined_event_id) VALUES ('old', 'alice', 1), ('old', 'bob', 1), ('orphan', 'carol', 2), ('orphan', 'bob', 3)`.execute(db);
    await db.destroy();
    const store = await openStore({ dialect: 'sqlite', file, synchronous: 'NORMAL', cacheSizeMb: 8 }, { maxGroupMembers: 100, maxBatch: 10, writer: 'inline' });
    try {
      assert.deepEqual(store.readModels.group('old'), { name: 'Old', owner: 'alice', joinPolicy: 'open', members: ['alice', 'bob'], roles: { alice: 'owner', bob: 'member' }, requests: [] });
      assert.equal(store.readModels.group('orphan')?.owner, 'bob');
      assert.equal(store.readModels.group('orphan')?.joinPolicy, 'open');
      // Nothing breaks for them: anyone may still join.
      const joined = await store.log.append({ kind: 'member_joined', sender: 'dave', groupId: 'old', user: 'dave', via: 'join' });
      assert.deepEqual([...joined.seqs.keys()].sort(), ['alice', 'bob', 'dave']);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
