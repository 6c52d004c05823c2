import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startTestServer, type TestServer } from '../helpers/server.ts';
import { TidingsError, type CallStateEvent, type GroupEvent } from '../../client/src/index.ts';
import { closeClients, sdkClient } from './sdk.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await closeClients();
  await server.stop();
});

const isCode = (code: string, retryable = false) => (e: unknown) =>
  e instanceof TidingsError && e.code === code && e.retryable === retryable;

test('groups: create, join, members, leave; the group event family; errors carry the protocol code', async () => {
  const gus = sdkClient(server, 'gus');
  const gia = sdkClient(server, 'gia');
  const groupEvents: GroupEvent[] = [];
  gia.client.on('group', (e) => groupEvents.push(e));
  await Promise.all([gus.client.connect(), gia.client.connect()]);
  const created = await gus.client.createGroup({ groupId: 'crew', name: 'Crew', members: [], joinPolicy: 'open' });
  assert.equal(created.groupId, 'crew');
  await assert.rejects(gus.client.createGroup({ groupId: 'crew', name: 'again', members: [] }), isCode('group_exists'));
  await gia.client.joinGroup('crew');
  assert.deepEqual(await gia.client.groupMembers('crew'), ['gia', 'gus']);
  await gus.client.sendText({ group: 'crew' }, 'welcome');
  await eventually(() => gia.messages.length === 1, 3000, 'group message');
  const left = await gia.client.leaveGroup('crew');
  assert.equal(left.for, 'group_leave');
  await assert.rejects(gia.client.groupMembers('crew'), isCode('not_group_member'));
  await assert.rejects(gia.client.joinGroup('nope'), isCode('group_not_found'));
  await assert.rejects(gia.client.sendText({ group: 'crew' }, 'after leaving'), isCode('not_group_member'));
  assert.equal(gia.client.pendingSends.length, 0, 'a refused send leaves the outbox');
  await eventually(() => groupEvents.length === 2, 3000, 'group events');
  assert.deepEqual(groupEvents.map((e) => e.kind), ['member_joined', 'member_left']);
});

test('SYNC-4: read receipts and unread counts', async () => {
  const ray = sdkClient(server, 'ray');
  const rex = sdkClient(server, 'rex');
  const receipts: number[] = [];
  ray.client.on('read', (e) => receipts.push(e.upTo));
  await Promise.all([ray.client.connect(), rex.client.connect()]);
  const ack = await ray.client.sendText({ user: 'rex' }, 'read me');
  await eventually(() => rex.messages.length === 1, 3000, 'delivered');
  assert.deepEqual(await rex.client.unread().then((u) => [u.total, u.conversations]), [1, { 'p:ray:rex': 1 }]);
  const ok = await rex.client.markRead(ack.conversation, ack.eventId);
  assert.equal(typeof ok.eventId, 'number');
  assert.equal((await rex.client.unread()).total, 0);
  await eventually(() => receipts.length === 1, 3000, 'read receipt');
  assert.deepEqual(receipts, [ack.eventId]);
  await assert.rejects(rex.client.markRead('p:other:people', 1), isCode('bad_conversation'));
});

test('CALL-1, CALL-2: invite, accept, end; invite and cancel; invite and reject', async () => {
  const cal = sdkClient(server, 'cal');
  const cam = sdkClient(server, 'cam');
  const states: CallStateEvent[] = [];
  const invited: string[] = [];
  cam.client.on('call_invited', (e) => invited.push(e.callId));
  cal.client.on('call_state', (e) => states.push(e));
  await Promise.all([cal.client.connect(), cam.client.connect()]);
  const call = await cal.client.inviteCall({ invitees: ['cam'], timeoutSec: 30, data: '{"media":"audio"}' });
  await eventually(() => invited.includes(call.callId), 3000, 'ringing');
  await cam.client.acceptCall(call.callId);
  await cal.client.endCall(call.callId);
  await assert.rejects(cam.client.rejectCall(call.callId), isCode('call_ended'));
  const second = await cal.client.inviteCall({ invitees: ['cam'] });
  await assert.rejects(cam.client.cancelCall(second.callId), isCode('call_not_inviter'));
  await cal.client.cancelCall(second.callId);
  const third = await cal.client.inviteCall({ invitees: ['cam'] });
  await cam.client.rejectCall(third.callId);
  await eventually(() => states.length === 4, 3000, 'call states');
  assert.deepEqual(states.map((s) => `${s.action}:${s.state}`), ['accept:accepted', 'end:ended', 'cancel:cancelled', 'reject:rejected']);
  assert.equal(states[0]!.byDevice, 'cam-web');
});

test('SET-1..6 and DEV-1/5: settings, mute, block, push register/unregister', async () => {
  const sal = sdkClient(server, 'sal');
  await sal.client.connect();
  const initial = await sal.client.getSettings();
  assert.equal(initial.displayStyle, 'banner');
  const updated = await sal.client.updateSettings({ displayName: 'Sal', displayStyle: 'summary', dnd: { start: 1320, end: 420, timeZone: 'Europe/Berlin' } });
  assert.deepEqual([updated.displayName, updated.displayStyle, updated.dnd?.timeZone], ['Sal', 'summary', 'Europe/Berlin']);
  await assert.rejects(sal.client.updateSettings({ dnd: { start: 0, end: 1, timeZone: 'Mars/Olympus' } }), isCode('bad_settings'));
  assert.deepEqual((await sal.client.mute({ user: 'spam' })).muted, ['p:sal:spam']);
  assert.deepEqual((await sal.client.mute({ user: 'spam' }, false)).muted, []);
  assert.deepEqual((await sal.client.block('troll')).blocked, ['troll']);
  await assert.rejects(sal.client.block('sal'), isCode('bad_recipient'));
  const registered = await sal.client.registerPush({ provider: 'fcm', token: 'sal-fcm-token:1', credential: 'android' });
  assert.match(registered.pushId, /^pid_/);
  await assert.rejects(sal.client.registerPush({ provider: 'apns', token: 'not-hex', credential: 'ios' }), isCode('push_token_invalid'));
  assert.equal((await sal.client.unregisterPush('fcm')).for, 'push_unregister');
  await assert.rejects(sal.client.unregisterPush(), isCode('push_not_registered'));
  const pong = await sal.client.ping();
  assert.equal(typeof pong.serverTime, 'number');
});

test('requests time out with a clear error; offline requests wait (default) or fail fast', async () => {
  const tim = sdkClient(server, 'tim');
  const early = tim.client.unread(); // made before connecting: waits for the login
  await tim.client.connect();
  assert.equal((await early).total, 0);
  tim.tap.last.blackhole = true;
  await assert.rejects(tim.client.request('unread', {}, { timeoutMs: 150 }), (e: unknown) =>
    isCode('timeout', true)(e) && /No reply to unread within 150 ms/.test((e as Error).message));
  tim.tap.last.blackhole = false;

  const fay = sdkClient(server, 'fay', { offline: 'fail' });
  await assert.rejects(fay.client.getSettings(), isCode('offline', true));
  const queued = fay.client.sendText({ user: 'tim' }, 'sends still wait in the outbox');
  await fay.client.connect();
  assert.equal((await queued).duplicate, false);
});

test('a request in flight when the connection drops fails with connection_lost (retryable)', async () => {
  const dan = sdkClient(server, 'dan');
  await dan.client.connect();
  dan.tap.onSent = (frame, socket) => {
    if (frame.type === 'group_members') socket.terminate();
  };
  await assert.rejects(dan.client.groupMembers('whatever'), isCode('connection_lost', true));
  await eventually(() => dan.client.state === 'live' && dan.tap.sockets.length === 2, 3000, 'reconnected');
});
