import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestClient } from '../helpers/client.ts';
import { apnsTo, apnsToken, fcmToken, pushTestConfig, registerApns, registerFcm, settlePush, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep, startTestServer, type TestServer } from '../helpers/server.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

const fcmTo = (token: string) => env.fcm.received.filter((m) => m.message.token === token);
const dataOf = (m: { message: Record<string, unknown> }) => m.message.data as Record<string, string>;
const offline = (t: TestServer, user: string, device: string) => eventually(async () => !(await t.server.ctx.presence.isOnline(user, device)), 3000, `${device} offline`);

/** A device that caught up (synced and acked everything) before it went away: nothing is owed to it. */
async function caughtUpAndGone(t: TestServer, client: TestClient, user: string, device: string) {
  await client.sync();
  client.ackAll();
  await client.expect({ type: 'ping' }, 'pong');
  await client.terminate();
  await offline(t, user, device);
}

async function registerVoip(client: TestClient, token: string) {
  return client.expect({ type: 'push_register', provider: 'apns-voip', token, credential: 'ios', environment: 'development' }, 'push_registered');
}

test('PAY-2: a read on one device sends the user\'s other offline devices that were pushed for it one silent badge update', async () => {
  const t = await startTestServer({ push: pushTestConfig(env, { badgeUpdateWindowMs: 300 }) });
  try {
    const phoneToken = apnsToken(0xb0b1);
    const tabletToken = fcmToken('bob-tablet-badge');
    const laptopToken = fcmToken('bob-laptop-badge');
    const alice = await t.connect('alice');
    const carol = await t.connect('carol');
    for (const [device, register] of [['bob-phone', (c: TestClient) => registerApns(c, phoneToken)], ['bob-tablet', (c: TestClient) => registerFcm(c, tabletToken)]] as const) {
      const c = await t.connect('bob', device, device === 'bob-phone' ? 'ios' : 'android');
      await register(c);
      await c.terminate();
      await offline(t, 'bob', device);
    }
    // Both devices are pushed for alice's and carol's messages while offline.
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await alice.sendText({ user: 'bob' }, `a${i}`, `a${i}`));
    sent.push(await carol.sendText({ user: 'bob' }, 'c0', 'c0'));
    await waitForPushes(() => apnsTo(env.apnsDev, phoneToken), 4);
    await waitForPushes(() => fcmTo(tabletToken), 4);
    // A laptop registered after those pushes was never pushed for them.
    const laptop = await t.connect('bob', 'bob-laptop', 'desktop');
    await registerFcm(laptop, laptopToken);
    await caughtUpAndGone(t, laptop, 'bob', 'bob-laptop');

    // The phone comes back and reads both conversations in a burst.
    const phone = await t.connect('bob', 'bob-phone');
    await phone.sync();
    const lastFrom = (user: string) => [...phone.events].reverse().find((e) => e.kind === 'message' && e.from === user)!;
    await phone.expect({ type: 'read', conversation: 'p:alice:bob', upTo: lastFrom('alice').eventId }, 'ok');
    await phone.expect({ type: 'read', conversation: 'p:bob:carol', upTo: lastFrom('carol').eventId }, 'ok');
    const [update] = await waitForPushes(() => fcmTo(tabletToken).filter((m) => dataOf(m).type === 'badge_update'), 1, 5000);
    await sleep(600);
    await settlePush(t);
    const updates = fcmTo(tabletToken).filter((m) => dataOf(m).type === 'badge_update');
    assert.equal(updates.length, 1, 'a burst of reads is one update per device');
    assert.equal(dataOf(update!).badge, '0', 'everything read: the badge becomes 0');
    assert.deepEqual(dataOf(update!).conversations!.split(',').sort(), ['p:alice:bob', 'p:bob:carol']);
    assert.equal(update!.message.notification, undefined, 'silent: a data message');
    assert.equal(apnsTo(env.apnsDev, phoneToken).length, 4, 'never to the device that read (it is online)');
    assert.equal(fcmTo(laptopToken).length, 0, 'never to a device that was not pushed for it');
    const trace = await t.server.ctx.store.push.traceFor({ userId: 'bob' }, 500);
    assert.ok(trace.some((r) => r.deviceId === 'bob-tablet' && r.decision === 'queued' && r.reason === 'read_elsewhere'), 'traced like any other push');
    assert.ok(trace.some((r) => r.deviceId === 'bob-tablet' && r.decision === 'pushed'));

    // A message pushed to the tablet since makes the next read update it again.
    await alice.sendText({ user: 'bob' }, 'while the tablet sleeps', 'a-live');
    await waitForPushes(() => fcmTo(tabletToken).filter((m) => dataOf(m).type !== 'badge_update'), 5);
    await settlePush(t);
    await eventually(() => phone.events.some((e) => e.kind === 'message' && e.clientMsgId === 'a-live'), 3000, 'live');
    await phone.expect({ type: 'read', conversation: 'p:alice:bob', upTo: [...phone.events].reverse().find((e) => e.kind === 'message')!.eventId }, 'ok');
    await waitForPushes(() => fcmTo(tabletToken).filter((m) => dataOf(m).type === 'badge_update'), 2);
  } finally {
    await t.stop();
  }
});

test('PAY-2: with badge sync switched off, reads elsewhere send nothing; the iOS update is a silent badge push', async () => {
  const t = await startTestServer({ push: pushTestConfig(env, { badgeUpdateWindowMs: 100 }) });
  try {
    const iphone = apnsToken(0xb0b2);
    const alice = await t.connect('alice');
    const ipad = await t.connect('dora', 'dora-ipad');
    await registerApns((await t.connect('dora', 'dora-iphone')), iphone);
    for (const c of t.server.ctx.hub.sessionsOf('dora').filter((s) => s.identity?.deviceId === 'dora-iphone')) t.server.ctx.sessions.end(c, 'closed');
    await offline(t, 'dora', 'dora-iphone');
    await ipad.sync();
    const m = await alice.sendText({ user: 'dora' }, 'hi', 'd1');
    assert.equal(m.type, 'send_ack');
    await waitForPushes(() => apnsTo(env.apnsDev, iphone), 1);
    await ipad.expect({ type: 'read', conversation: 'p:alice:dora', upTo: m.type === 'send_ack' ? m.eventId : 0 }, 'ok');
    const [badge] = await waitForPushes(() => apnsTo(env.apnsDev, iphone).filter((p) => (p.payload as { type?: string }).type === 'badge_update'), 1);
    assert.equal(badge!.headers['apns-push-type'], 'alert');
    assert.equal(badge!.headers['apns-priority'], '5');
    assert.deepEqual((badge!.payload as { aps: unknown }).aps, { badge: 0, 'content-available': 1 }, 'no alert, no sound: the badge and a wake-up');

    await ipad.expect({ type: 'settings_update', syncBadges: false }, 'settings');
    const m2 = await alice.sendText({ user: 'dora' }, 'again', 'd2');
    await waitForPushes(() => apnsTo(env.apnsDev, iphone).filter((p) => (p.payload as { type?: string }).type !== 'badge_update'), 2);
    await ipad.expect({ type: 'read', conversation: 'p:alice:dora', upTo: m2.type === 'send_ack' ? m2.eventId : 0 }, 'ok');
    await sleep(400);
    await settlePush(t);
    assert.equal(apnsTo(env.apnsDev, iphone).filter((p) => (p.payload as { type?: string }).type === 'badge_update').length, 1, 'switched off: no second update');
  } finally {
    await t.stop();
  }
});

test('CALL-2: when a ring ends, every device rung through a push gets a call-over push (not VoIP); devices never rung get nothing', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const voip = apnsToken(0xca11);
    const alert = apnsToken(0xca12);
    const androidToken = fcmToken('erin-android-ring');
    const neverRung = fcmToken('erin-laptop-never');
    const alice = await t.connect('alice');
    const iphone = await t.connect('erin', 'erin-iphone');
    await registerApns(iphone, alert);
    await registerVoip(iphone, voip);
    await iphone.terminate();
    const android = await t.connect('erin', 'erin-android', 'android');
    await registerFcm(android, androidToken);
    await android.terminate();
    await offline(t, 'erin', 'erin-iphone');
    await offline(t, 'erin', 'erin-android');
    const desk = await t.connect('erin', 'erin-desk', 'desktop');
    await desk.sync();

    const call = await alice.expect({ type: 'call_invite', invitees: ['erin'], timeoutSec: 60 }, 'call_created');
    await waitForPushes(() => apnsTo(env.apnsDev, voip), 1);
    await waitForPushes(() => fcmTo(androidToken), 1);
    // A device registered after the ring was never rung.
    const laptop = await t.connect('erin', 'erin-laptop', 'desktop');
    await registerFcm(laptop, neverRung);
    await caughtUpAndGone(t, laptop, 'erin', 'erin-laptop');

    // Answered on the desk: the phones stop ringing.
    await desk.expect({ type: 'call_accept', callId: call.callId }, 'ok');
    const [over] = await waitForPushes(() => apnsTo(env.apnsDev, alert).filter((p) => (p.payload as { type?: string }).type === 'call_over'), 1);
    assert.equal(over!.headers['apns-push-type'], 'background', 'not a VoIP push: iOS wants every VoIP push to report a new call');
    assert.equal(over!.headers['apns-topic']?.endsWith('.voip'), false);
    assert.deepEqual(
      Object.fromEntries(Object.entries(over!.payload as Record<string, unknown>).filter(([k]) => ['type', 'callId', 'state', 'yourState'].includes(k))),
      { type: 'call_over', callId: call.callId, state: 'accepted', yourState: 'accepted' },
    );
    const [androidOver] = await waitForPushes(() => fcmTo(androidToken).filter((m) => dataOf(m).type === 'call_over'), 1);
    assert.equal(dataOf(androidOver!).callId, call.callId);
    assert.equal(androidOver!.message.notification, undefined, 'a data message');
    // The call ends later: no second call-over, and answered elsewhere is not a missed call.
    await alice.expect({ type: 'call_end', callId: call.callId }, 'ok');
    await sleep(300);
    await settlePush(t);
    assert.equal(apnsTo(env.apnsDev, alert).length, 1, 'one call-over, and no missed-call alert');
    assert.equal(apnsTo(env.apnsDev, voip).length, 1, 'one ring');
    assert.equal(fcmTo(androidToken).filter((m) => dataOf(m).type === 'call_over').length, 1);
    assert.equal(fcmTo(androidToken).filter((m) => dataOf(m).type === 'missed_call').length, 0);
    assert.equal(fcmTo(neverRung).length, 0, 'a device never rung gets nothing');
  } finally {
    await t.stop();
  }
});

test('CALL-2: two transitions committed together (accepted, then ended at once) are one call-over push per rung device', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const androidToken = fcmToken('finn-android-burst');
    const alice = await t.connect('alice');
    const android = await t.connect('finn', 'finn-android', 'android');
    await registerFcm(android, androidToken);
    await android.terminate();
    await offline(t, 'finn', 'finn-android');
    const desk = await t.connect('finn', 'finn-desk', 'desktop');
    await desk.sync();
    for (let round = 0; round < 3; round++) {
      const call = await alice.expect({ type: 'call_invite', invitees: ['finn'], timeoutSec: 60 }, 'call_created');
      await waitForPushes(() => fcmTo(androidToken).filter((m) => dataOf(m).callId === call.callId), 1);
      // Written back to back, so both transitions usually reach the push trigger in one pass.
      const accepted = desk.expect({ type: 'call_accept', callId: call.callId }, 'ok');
      const ended = alice.expect({ type: 'call_end', callId: call.callId }, 'ok');
      await Promise.all([accepted, ended]);
      await waitForPushes(() => fcmTo(androidToken).filter((m) => dataOf(m).callId === call.callId && dataOf(m).type === 'call_over'), 1);
      await sleep(200);
      await settlePush(t);
      assert.equal(fcmTo(androidToken).filter((m) => dataOf(m).callId === call.callId && dataOf(m).type === 'call_over').length, 1, `round ${round}: one call-over`);
    }
  } finally {
    await t.stop();
  }
});

test('CALL-2: a cancelled ring gets its call-over push and the missed-call alert', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const token = fcmToken('fay-android-cancel');
    const alice = await t.connect('alice');
    const fay = await t.connect('fay', 'fay-android', 'android');
    await registerFcm(fay, token);
    await fay.terminate();
    await offline(t, 'fay', 'fay-android');
    const call = await alice.expect({ type: 'call_invite', invitees: ['fay'], timeoutSec: 60 }, 'call_created');
    await waitForPushes(() => fcmTo(token), 1);
    await alice.expect({ type: 'call_cancel', callId: call.callId }, 'ok');
    await waitForPushes(() => fcmTo(token), 3).catch(() => undefined);
    const types = fcmTo(token).map((m) => dataOf(m).type).sort();
    assert.deepEqual(types, ['call_over', 'call_ring', 'missed_call']);
    const over = fcmTo(token).find((m) => dataOf(m).type === 'call_over');
    assert.equal(over && dataOf(over).state, 'cancelled');
  } finally {
    await t.stop();
  }
});
