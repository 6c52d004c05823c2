/**
 * Issue 7, authorization matrix: for every frame that touches another user's data, a user
 * without the right gets a specific error and causes no side effect, checked in the database
 * and in the victims' own views. One row per case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientFrame, ServerFrame } from '../../protocol/index.ts';
import type { TestClient } from '../helpers/client.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const BOB_PUSH_TOKEN = 'b0b'.padEnd(64, 'f');

interface World {
  t: TestServer;
  alice: TestClient;
  bob: TestClient;
  mallory: TestClient;
  callId: string;
  /** eventId of alice's peer message to bob. */
  peerEventId: number;
  /** bob's inbox head: a valid cursor for bob, beyond mallory's own head. */
  bobHead: number;
}

/** Everything a row could change: the log, every inbox head, settings, groups, the call, bob's push binding, cursors. */
async function snapshot(w: World) {
  const { store, hub } = w.t.server.ctx;
  await store.log.flush();
  const users = ['alice', 'bob', 'mallory'];
  return {
    lastEventId: store.log.lastEventId(),
    heads: await Promise.all(users.map((u) => store.log.headSeq(u))),
    settings: await Promise.all(users.map((u) => store.settings.get(u))),
    groups: ['secret-team', 'left-team', 'ruled'].map((g) => store.readModels.group(g)),
    call: (await store.readModels.callsByIds([w.callId])).get(w.callId),
    bobBinding: await store.push.bindingByToken('apns', BOB_PUSH_TOKEN),
    malloryAcked: hub.sessionOf('mallory', 'mallory-phone')?.delivery.ackedSeq,
    unread: await Promise.all(users.map((u) => store.readModels.unread(u))),
    seen: { alice: w.alice.events.length, bob: w.bob.events.length, mallory: w.mallory.events.length },
  };
}

async function setUp(t: TestServer): Promise<World> {
  const alice = await t.connect('alice', 'alice-phone');
  const bob = await t.connect('bob', 'bob-phone');
  const mallory = await t.connect('mallory', 'mallory-phone');
  await Promise.all([alice.sync(), bob.sync(), mallory.sync()]);
  const peer = await alice.sendText({ user: 'bob' }, 'the secret', 'a-peer-1');
  assert.equal(peer.type, 'send_ack');
  await bob.sendText({ user: 'alice' }, 'the answer', 'b-peer-1');
  await alice.expect({ type: 'group_create', groupId: 'secret-team', name: 'Secret', members: ['bob'] }, 'group_created');
  await alice.sendText({ group: 'secret-team' }, 'team secret', 'a-team-1');
  await alice.expect({ type: 'group_create', groupId: 'left-team', name: 'Left', members: ['mallory'] }, 'group_created');
  await mallory.expect({ type: 'group_leave', groupId: 'left-team' }, 'ok');
  await alice.sendText({ group: 'left-team' }, 'after mallory left', 'a-left-1');
  // alice owns `ruled`, bob is an admin there, mallory a plain member; it takes join requests.
  await alice.expect({ type: 'group_create', groupId: 'ruled', name: 'Ruled', members: ['bob', 'mallory'], joinPolicy: 'approval' }, 'group_created');
  await alice.expect({ type: 'group_set_role', groupId: 'ruled', user: 'bob', role: 'admin' }, 'ok');
  await mallory.sendText({ user: 'alice' }, 'hi alice', 'm-1');
  const call = await alice.expect({ type: 'call_invite', invitees: ['bob'], timeoutSec: 120 }, 'call_created');
  await bob.expect({ type: 'push_register', provider: 'apns', token: BOB_PUSH_TOKEN, credential: 'ios', environment: 'development' }, 'push_registered');
  await bob.expect({ type: 'settings_update', displayName: 'Bob', displayStyle: 'summary' }, 'settings');
  const w: World = {
    t, alice, bob, mallory, callId: call.callId, peerEventId: peer.type === 'send_ack' ? peer.eventId : 0,
    bobHead: await t.server.ctx.store.log.headSeq('bob'),
  };
  // Let every live delivery land before rows start counting events.
  const { store } = t.server.ctx;
  await store.log.flush();
  for (const [client, user] of [[alice, 'alice'], [bob, 'bob'], [mallory, 'mallory']] as const) {
    const head = await store.log.headSeq(user);
    await client.waitForEvents(head);
  }
  return w;
}

interface Row {
  name: string;
  /** The acting client (mallory unless said otherwise). */
  actor?: (w: World) => TestClient;
  frame: (w: World) => ClientFrame;
  code: string;
  /** Extra checks beyond "nothing in the snapshot changed". */
  check?: (w: World) => Promise<void> | void;
  /** A known bug: the row documents the expected behaviour and is reported as todo. */
  todo?: string;
}

const rows: Row[] = [
  // Inboxes: a cursor can only address your own inbox.
  { name: 'sync from bob\'s head, beyond your own', frame: (w) => ({ type: 'sync', after: w.bobHead }), code: 'bad_cursor' },
  { name: 'ack bob\'s head, beyond your own', frame: (w) => ({ type: 'ack', seq: w.bobHead }), code: 'bad_cursor' },
  // Read receipts only in your own conversations.
  { name: 'read in alice and bob\'s peer chat', frame: (w) => ({ type: 'read', conversation: 'p:alice:bob', upTo: w.peerEventId }), code: 'bad_conversation' },
  { name: 'read in a peer chat of two other users, upTo far ahead', frame: () => ({ type: 'read', conversation: 'p:alice:bob', upTo: 1e9 }), code: 'bad_conversation' },
  {
    name: 'read in alice and bob\'s call conversation', frame: (w) => ({ type: 'read', conversation: `c:${w.callId}`, upTo: w.peerEventId }), code: 'bad_conversation',
  },
  // Groups you are not in.
  { name: 'group_members of a group you are not in', frame: () => ({ type: 'group_members', groupId: 'secret-team' }), code: 'not_group_member' },
  { name: 'send to a group you are not in', frame: () => ({ type: 'send', clientMsgId: 'm-team', to: { group: 'secret-team' }, content: { type: 'text', text: 'let me in' } }), code: 'not_group_member' },
  { name: 'read in a group you are not in', frame: (w) => ({ type: 'read', conversation: 'g:secret-team', upTo: w.peerEventId }), code: 'not_group_member' },
  { name: 'mute a group you are not in', frame: () => ({ type: 'mute', to: { group: 'secret-team' }, muted: true }), code: 'not_group_member' },
  { name: 'leave a group you are not in', frame: () => ({ type: 'group_leave', groupId: 'secret-team' }), code: 'not_group_member' },
  // Groups you left.
  { name: 'group_members of a group you left', frame: () => ({ type: 'group_members', groupId: 'left-team' }), code: 'not_group_member' },
  { name: 'send to a group you left', frame: () => ({ type: 'send', clientMsgId: 'm-left', to: { group: 'left-team' }, content: { type: 'text', text: 'still here?' } }), code: 'not_group_member' },
  { name: 'read in a group you left', frame: (w) => ({ type: 'read', conversation: 'g:left-team', upTo: w.peerEventId }), code: 'not_group_member' },
  { name: 'mute a group you left', frame: () => ({ type: 'mute', to: { group: 'left-team' }, muted: true }), code: 'not_group_member' },
  // Group roles and join policy (issue 17): a member who is not a moderator, an admin acting as the owner.
  { name: 'join an invite-only group', frame: () => ({ type: 'group_join', groupId: 'secret-team' }), code: 'group_invite_only' },
  { name: 'invite into a group you are not in', frame: () => ({ type: 'group_invite', groupId: 'secret-team', users: ['mallory-friend'] }), code: 'not_group_member' },
  { name: 'invite as a plain member', frame: () => ({ type: 'group_invite', groupId: 'ruled', users: ['mallory-friend'] }), code: 'not_group_admin' },
  { name: 'remove a member as a plain member', frame: () => ({ type: 'group_remove', groupId: 'ruled', user: 'bob' }), code: 'not_group_admin' },
  { name: 'remove a member of a group you are not in', frame: () => ({ type: 'group_remove', groupId: 'secret-team', user: 'bob' }), code: 'not_group_member' },
  { name: 'remove the owner as an admin', actor: (w) => w.bob, frame: () => ({ type: 'group_remove', groupId: 'ruled', user: 'alice' }), code: 'not_group_admin' },
  { name: 'approve a join request as a plain member', frame: () => ({ type: 'group_approve', groupId: 'ruled', user: 'mallory-friend' }), code: 'not_group_admin' },
  { name: 'approve someone who never asked', actor: (w) => w.bob, frame: () => ({ type: 'group_approve', groupId: 'ruled', user: 'mallory-friend' }), code: 'no_join_request' },
  { name: 'reject a join request as a plain member', frame: () => ({ type: 'group_reject', groupId: 'ruled', user: 'mallory-friend' }), code: 'not_group_admin' },
  { name: 'transfer ownership as an admin', actor: (w) => w.bob, frame: () => ({ type: 'group_transfer', groupId: 'ruled', user: 'bob' }), code: 'not_group_owner' },
  { name: 'make yourself an admin as a plain member', frame: () => ({ type: 'group_set_role', groupId: 'ruled', user: 'mallory', role: 'admin' }), code: 'not_group_owner' },
  { name: 'change roles as an admin', actor: (w) => w.bob, frame: () => ({ type: 'group_set_role', groupId: 'ruled', user: 'mallory', role: 'admin' }), code: 'not_group_owner' },
  { name: 'update a group as a plain member', frame: () => ({ type: 'group_update', groupId: 'ruled', joinPolicy: 'open' }), code: 'not_group_admin' },
  { name: 'dissolve a group as an admin', actor: (w) => w.bob, frame: () => ({ type: 'group_dissolve', groupId: 'ruled' }), code: 'not_group_owner' },
  { name: 'dissolve a group you are not in', frame: () => ({ type: 'group_dissolve', groupId: 'secret-team' }), code: 'not_group_member' },
  { name: 'leave a group you own without transferring it', actor: (w) => w.alice, frame: () => ({ type: 'group_leave', groupId: 'ruled' }), code: 'group_owner_must_transfer' },
  { name: 'ask to join a group you are in', frame: () => ({ type: 'group_join', groupId: 'ruled' }), code: 'already_member' },
  // Someone else's call.
  { name: 'accept a call you were not invited to', frame: (w) => ({ type: 'call_accept', callId: w.callId }), code: 'call_not_invitee' },
  { name: 'reject a call you were not invited to', frame: (w) => ({ type: 'call_reject', callId: w.callId }), code: 'call_not_invitee' },
  { name: 'end a call you are not part of', frame: (w) => ({ type: 'call_end', callId: w.callId }), code: 'call_not_invitee' },
  { name: 'cancel someone else\'s call', frame: (w) => ({ type: 'call_cancel', callId: w.callId }), code: 'call_not_inviter' },
  { name: 'cancel a call as its invitee (only the inviter may)', actor: (w) => w.bob, frame: (w) => ({ type: 'call_cancel', callId: w.callId }), code: 'call_not_inviter' },
  // Push tokens: never route another user's notifications to yourself.
  {
    name: 'register a push token that is active for another user',
    frame: () => ({ type: 'push_register', provider: 'apns', token: BOB_PUSH_TOKEN, credential: 'ios', environment: 'development' }),
    code: 'forbidden',
    check: async (w) => {
      const binding = await w.t.server.ctx.store.push.bindingByToken('apns', BOB_PUSH_TOKEN);
      assert.equal(binding?.userId, 'bob');
      assert.equal(binding?.active, true);
      assert.deepEqual(await w.t.server.ctx.store.push.bindingsForDevice('mallory', 'mallory-phone'), []);
    },
  },
  // Settings frames have no target user: naming one is a schema error, and you cannot block yourself.
  { name: 'settings_update naming another user', frame: () => ({ type: 'settings_update', userId: 'bob', pushEnabled: false }) as never, code: 'bad_frame' },
  { name: 'mute naming another user as the owner', frame: () => ({ type: 'mute', to: { user: 'alice' }, muted: true, user: 'bob' }) as never, code: 'bad_frame' },
  { name: 'block yourself', frame: () => ({ type: 'block', user: 'mallory', blocked: true }), code: 'bad_recipient' },
];

test('authorization matrix: a user without the right gets a specific error and causes no side effect', async (t) => {
  const server = await startTestServer();
  try {
    const w = await setUp(server);
    const { store } = server.server.ctx;
    assert.ok(w.bobHead > await store.log.headSeq('mallory'), 'bob\'s inbox is longer than mallory\'s, so his head is a cursor beyond hers');
    for (const row of rows) {
      await t.test(row.name, row.todo ? { todo: row.todo } : {}, async () => {
        const actor = row.actor?.(w) ?? w.mallory;
        const before = await snapshot(w);
        const reply = await actor.request(row.frame(w));
        assert.equal(reply.type, 'error', `got ${JSON.stringify(reply)}`);
        assert.equal(reply.type === 'error' && reply.code, row.code);
        assert.equal(reply.type === 'error' && reply.retryable, false);
        await row.check?.(w);
        assert.deepEqual(await snapshot(w), before, 'no side effect: log, inboxes, settings, groups, call, push binding and cursors unchanged');
      });
    }
    assert.deepEqual([...w.alice.invalid, ...w.bob.invalid, ...w.mallory.invalid], []);
  } finally {
    await server.stop();
  }
});

test('authorization: you only ever receive your own inbox; mute, block and settings only change your own settings', async () => {
  const server = await startTestServer();
  try {
    const w = await setUp(server);
    const { store } = server.server.ctx;
    const foreign = (conversation: string) => conversation === 'p:alice:bob' || conversation === 'g:secret-team' || conversation === `c:${w.callId}`;

    // A full resync from 0 on a new device, and whatever mallory received live, hold only her own events.
    const fresh = await server.connect('mallory', 'mallory-laptop', 'web');
    await fresh.sync(0);
    assert.ok(fresh.events.length > 0);
    for (const e of [...fresh.events, ...w.mallory.events]) {
      assert.ok(!foreign(e.conversation), `mallory received ${e.kind} in ${e.conversation}`);
      assert.ok(!(e.kind === 'message' && e.clientMsgId === 'a-left-1'), 'nothing from a group after leaving it');
    }
    // Bob's sync of the same range does contain them: the filter is the inbox, not the data.
    const bobFresh = await server.connect('bob', 'bob-laptop', 'web');
    await bobFresh.sync(0);
    assert.ok(bobFresh.events.some((e) => e.conversation === 'p:alice:bob'));
    assert.ok(bobFresh.events.some((e) => e.conversation === 'g:secret-team'));
    const unread = await fresh.expect({ type: 'unread' }, 'unread_counts');
    assert.ok(Object.keys(unread.conversations).every((c) => !foreign(c)), JSON.stringify(unread));

    // mute / block / settings_update change mallory's settings and nobody else's.
    const others = async () => ({ alice: await store.settings.get('alice'), bob: await store.settings.get('bob') });
    const before = await others();
    const cases: Array<[ClientFrame, (s: Extract<ServerFrame, { type: 'settings' }>) => void]> = [
      [{ type: 'mute', to: { user: 'bob' }, muted: true }, (s) => assert.deepEqual(s.muted, ['p:bob:mallory'])],
      [{ type: 'mute', to: { user: 'alice' }, muted: true }, (s) => assert.deepEqual([...s.muted].sort(), ['p:alice:mallory', 'p:bob:mallory'])],
      [{ type: 'block', user: 'bob', blocked: true }, (s) => assert.deepEqual(s.blocked, ['bob'])],
      [{ type: 'settings_update', displayName: 'Bob', displayStyle: 'summary', pushEnabled: false }, (s) => assert.equal(s.displayName, 'Bob')],
      [{ type: 'mute', to: { user: 'bob' }, muted: false }, (s) => assert.deepEqual(s.muted, ['p:alice:mallory'])],
    ];
    for (const [frame, check] of cases) {
      const reply = await w.mallory.expect(frame, 'settings');
      check(reply);
    }
    assert.deepEqual(await others(), before, 'alice\'s and bob\'s settings are untouched');
    assert.deepEqual((await store.settings.get('mallory')).blocked, ['bob']);
    // Mallory blocking bob only stops bob's messages to mallory; bob still reaches alice.
    const refused = await w.bob.sendText({ user: 'mallory' }, 'hello?', 'b-to-m');
    assert.equal(refused.type === 'error' && refused.code, 'blocked');
    assert.equal((await w.bob.sendText({ user: 'alice' }, 'still fine', 'b-to-a')).type, 'send_ack');
    assert.deepEqual([...fresh.invalid, ...bobFresh.invalid, ...w.mallory.invalid], []);
  } finally {
    await server.stop();
  }
});
