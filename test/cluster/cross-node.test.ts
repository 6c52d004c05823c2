/**
 * The single-node guarantees across real nodes: 2–3 `tidings serve` processes on one PostgreSQL
 * database and one redis-server (cluster.engine=redis), each device connected to its own node.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveredEvent } from '../../protocol/index.ts';
import { TestClient } from '../helpers/client.ts';
import { apnsTo, apnsToken, registerApns, startPushEnv, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep } from '../helpers/server.ts';
import { NEEDS_POSTGRES, startCluster, type TestCluster } from './harness.ts';

let env: PushEnv | undefined;
let cluster: TestCluster | undefined;
before(async () => {
  if (NEEDS_POSTGRES) return;
  env = await startPushEnv();
  cluster = await startCluster({
    nodes: 3,
    config: {
      push: { credentials: env.credentials, retryBaseMs: 50, retryMaxMs: 200, pollMs: 20, startupGraceMs: 0, collapseWindowMs: 0 },
      sessions: { ios: 'single' },
      limits: { maxConnectionsPerUser: 3 },
    },
  });
});
after(async () => {
  await cluster?.stop();
  await env?.close();
});

const skip = NEEDS_POSTGRES;
const c = () => cluster!;
const messages = (client: TestClient, conversation?: string) => client.events.filter((e): e is Extract<DeliveredEvent, { kind: 'message' }> =>
  e.kind === 'message' && (conversation === undefined || e.conversation === conversation));
const texts = (client: TestClient, conversation?: string) => messages(client, conversation).map((e) => (e.content as { text: string }).text);

test('MSG-1 across nodes: a message sent on node 1 reaches the recipient\'s devices on nodes 2 and 3 live, once each', { skip }, async () => {
  const alice = await c().connect(0, 'x-alice', 'x-alice-web', 'web');
  const bobPhone = await c().connect(1, 'x-bob', 'x-bob-android', 'android');
  const bobDesk = await c().connect(2, 'x-bob', 'x-bob-desk', 'desktop');
  const aliceTab = await c().connect(1, 'x-alice', 'x-alice-tab', 'android');
  await Promise.all([alice, bobPhone, bobDesk, aliceTab].map((d) => d.sync()));
  for (let i = 0; i < 5; i++) assert.equal((await alice.sendText({ user: 'x-bob' }, `hi ${i}`, `x-${i}`)).type, 'send_ack');
  const want = [0, 1, 2, 3, 4].map((i) => `hi ${i}`);
  for (const device of [bobPhone, bobDesk, aliceTab]) {
    await eventually(() => texts(device).length >= 5, 5000, 'five live messages');
  }
  await sleep(300);
  for (const device of [bobPhone, bobDesk, aliceTab]) {
    assert.deepEqual(texts(device), want, 'in order, once each (the sender\'s other device too)');
    const seqs = device.events.map((e) => e.seq);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'dense, no duplicate');
    assert.deepEqual(device.invalid, []);
  }
  await Promise.all([alice, bobPhone, bobDesk, aliceTab].map((d) => d.close()));
});

test('MSG-2/LOG-3 across nodes: a group\'s members on three nodes each get every message once, all in one order', { skip }, async () => {
  const users = ['g-ann', 'g-ben', 'g-cid', 'g-dee', 'g-eve', 'g-fay'];
  const devices = await Promise.all(users.map((u, i) => c().connect(i % 3, u, `${u}-dev`, 'android')));
  await Promise.all(devices.map((d) => d.sync()));
  await devices[0]!.expect({ type: 'group_create', groupId: 'three-nodes', name: 'Across', members: users.slice(1) }, 'group_created');
  // Every member sends from its own node, all at once.
  const sends = devices.flatMap((d, i) => [0, 1, 2].map((k) => d.sendText({ group: 'three-nodes' }, `${users[i]} ${k}`, `${users[i]}-${k}`)));
  for (const ack of await Promise.all(sends)) assert.equal(ack.type, 'send_ack');
  for (const d of devices) await eventually(() => texts(d, 'g:three-nodes').length >= 18, 8000, 'eighteen group messages');
  await sleep(300);
  const order = messages(devices[0]!, 'g:three-nodes').map((e) => e.eventId);
  assert.equal(new Set(order).size, 18);
  assert.deepEqual(order, [...order].sort((a, b) => a - b), 'log order');
  for (const d of devices) {
    assert.deepEqual(messages(d, 'g:three-nodes').map((e) => e.eventId), order, 'every member, on every node, reads one order');
    assert.deepEqual(d.invalid, []);
  }
  await Promise.all(devices.map((d) => d.close()));
});

test('AUTH-2/DEV-6 across nodes: a login on node 2 kicks the user\'s other iPhone on node 1, which then gets no push', { skip }, async () => {
  const oldToken = apnsToken(0xc1051);
  const newToken = apnsToken(0xc1052);
  const old = await c().connect(0, 'k-bob', 'k-bob-old-iphone', 'ios');
  await registerApns(old, oldToken);
  const fresh = await c().connect(1, 'k-bob', 'k-bob-new-iphone', 'ios');
  const kicked = await old.next('kicked', 5000);
  assert.equal(kicked.byDeviceId, 'k-bob-new-iphone');
  assert.equal(await old.closed, 4001);
  await registerApns(fresh, newToken);
  await fresh.close();
  const sender = await c().connect(2, 'k-alice', 'k-alice-web', 'web');
  // Both iPhones offline now: only the one that logged in last is pushed.
  const ack = await sender.sendText({ user: 'k-bob' }, 'only the new phone', 'k-1');
  assert.equal(ack.type, 'send_ack');
  await eventually(() => apnsTo(env!.apnsDev, newToken).length === 1, 5000, 'push to the new iPhone');
  await sleep(500);
  assert.equal(apnsTo(env!.apnsDev, oldToken).length, 0, 'the kicked iPhone gets nothing');
  const { registrations } = await (await c().node(2).admin('/admin/devices?user=k-bob')).json() as { registrations: Array<{ deviceId: string; active: boolean }> };
  assert.deepEqual(registrations.map((r) => [r.deviceId, r.active]), [['k-bob-new-iphone', true]], 'the kicked iPhone is bound no more');
  await sender.close();
});

test('DEV-4 across nodes: the same device logging in again on another node replaces its session; presence holds one entry', { skip }, async () => {
  const first = await c().connect(0, 'r-bob', 'r-bob-tab', 'android');
  const second = await c().connect(2, 'r-bob', 'r-bob-tab', 'android');
  assert.equal(await first.closed, 4006, 'replaced');
  const { sessions } = await (await c().node(1).admin('/admin/devices?user=r-bob')).json() as { sessions: Array<{ deviceId: string; nodeId: string }> };
  assert.deepEqual(sessions.map((d) => [d.deviceId, d.nodeId]), [['r-bob-tab', 'node3']]);
  const sender = await c().connect(1, 'r-alice', 'r-alice-web', 'web');
  await second.sync();
  await sender.sendText({ user: 'r-bob' }, 'to the new session', 'r-1');
  await eventually(() => texts(second).includes('to the new session'), 5000, 'live on the new session');
  await Promise.all([second.close(), sender.close()]);
});

test('DEV-4 across nodes: logout on another node, or the device switching user there, clears the binding everywhere', { skip }, async () => {
  const logoutToken = apnsToken(0xd1);
  const switchToken = apnsToken(0xd2);
  // Device Y: A on node 1 registers; later, on node 2, A logs out.
  const y1 = await c().connect(0, 'd-userA', 'd-device-y', 'ios');
  await registerApns(y1, logoutToken);
  await y1.terminate();
  const y2 = await c().connect(1, 'd-userA', 'd-device-y', 'ios');
  await y2.expect({ type: 'logout' }, 'logged_out');
  // Device X: A on node 1 registers; later, on node 3, the device logs in as B (no logout).
  const x1 = await c().connect(0, 'd-userA', 'd-device-x', 'ios');
  await registerApns(x1, switchToken);
  await x1.terminate();
  const x2 = await c().connect(2, 'd-userB', 'd-device-x', 'ios');
  await x2.close();
  // Messages to A, from every node: no device of A is bound any more.
  const sent: string[] = [];
  for (let i = 0; i < 3; i++) {
    const sender = await c().connect(i, 'd-alice', `d-alice-${i}`, 'web');
    const ack = await sender.sendText({ user: 'd-userA' }, `to A via node ${i + 1}`, `d-${i}`);
    assert.ok(ack.type === 'send_ack');
    sent.push(ack.messageId);
    await sender.close();
  }
  await sleep(800);
  assert.equal(apnsTo(env!.apnsDev, logoutToken).length, 0, 'logged out: no push');
  assert.equal(apnsTo(env!.apnsDev, switchToken).length, 0, 'switched to B: none of A\'s pushes');
  for (const [i, messageId] of sent.entries()) {
    const why = await (await c().node((i + 1) % 3).admin(`/admin/trace?message=${messageId}&user=d-userA`)).json() as { recipients: Array<{ devices: Array<{ outcome: string }> }> };
    assert.deepEqual(why.recipients[0]?.devices.map((d) => d.outcome), ['suppressed:no_binding'], JSON.stringify(why));
  }
});

test('CALL-1/CALL-2 across nodes: a call rung from node 1 is answered on node 3; the invitee\'s other device (node 2) stops ringing', { skip }, async () => {
  const callEvents = (client: TestClient, callId: string) => client.events.filter((e): e is Extract<DeliveredEvent, { kind: 'call_invited' | 'call_state' }> =>
    (e.kind === 'call_invited' || e.kind === 'call_state') && e.callId === callId);
  const alice = await c().connect(0, 'c-alice', 'c-alice-phone', 'android');
  const bobTab = await c().connect(1, 'c-bob', 'c-bob-tab', 'android');
  const bobDesk = await c().connect(2, 'c-bob', 'c-bob-desk', 'desktop');
  await Promise.all([alice, bobTab, bobDesk].map((d) => d.sync()));
  const created = await alice.expect({ type: 'call_invite', invitees: ['c-bob'], timeoutSec: 30 }, 'call_created');
  for (const device of [bobTab, bobDesk]) await eventually(() => callEvents(device, created.callId)[0]?.kind === 'call_invited', 5000, 'ringing');
  await bobDesk.expect({ type: 'call_accept', callId: created.callId }, 'ok');
  for (const device of [bobTab, alice, bobDesk]) {
    const state = await eventually(() => callEvents(device, created.callId).find((e) => e.kind === 'call_state'), 5000, 'call_state');
    assert.ok(state.kind === 'call_state' && state.state === 'accepted' && state.byDevice === 'c-bob-desk', JSON.stringify(state));
  }
  // The answer is the cluster's, not node 3's: the tablet (node 2) cannot accept it again.
  const again = await bobTab.request({ type: 'call_accept', callId: created.callId });
  assert.equal(again.type === 'error' && again.code, 'call_ended');
  await alice.expect({ type: 'call_end', callId: created.callId }, 'ok');
  await Promise.all([alice, bobTab, bobDesk].map((d) => d.close()));
});

test('LIM-1 across nodes: the per-user connection cap counts the user\'s devices on every node', { skip }, async () => {
  const devices = await Promise.all([0, 1, 2].map((i) => c().connect(i, 'cap-bob', `cap-bob-${i}`, 'android')));
  const fourth = await TestClient.connect(c().url(0));
  fourth.send({ type: 'login', token: c().token('cap-bob'), deviceId: 'cap-bob-3', platform: 'android' });
  const answer = await fourth.waitFor((f) => f.type === 'error' || f.type === 'login_ok', 5000, 'login answer');
  assert.equal(answer.type === 'error' && answer.code, 'too_many_connections', 'three online on three nodes: a fourth is refused on node 1');
  // The same device reconnecting elsewhere is not a new connection: it replaces its session.
  const again = await c().connect(0, 'cap-bob', 'cap-bob-2', 'android');
  assert.equal(await devices[2]!.closed, 4006);
  await Promise.all([devices[0]!.close(), devices[1]!.close(), again.close(), fourth.close()]);
});
