import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { localMinutes } from '../../push/dnd.ts';
import { apnsTo, apnsToken, fcmToken, pushOutcomes, pushTestConfig, registerApns, registerFcm, settlePush, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { sleep, startTestServer, type TestServer } from '../helpers/server.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

type Aps = { aps: { alert: { title: string; body: string }; badge?: number }; count?: string; type?: string; custom1?: string };
const payloadOf = (p: { payload: unknown }) => p.payload as Aps;

/** Bob with an offline iPhone; returns his token and a live session to change settings with. */
async function offlineBob(t: TestServer, n: number) {
  const token = apnsToken(0xb0b000 + n);
  const phone = await t.connect('bob', 'bob-iphone');
  await registerApns(phone, token);
  await phone.close();
  const laptop = await t.connect('bob', 'bob-laptop', 'desktop');
  await settlePush(t);
  return { token, laptop };
}

test('SET-5: with the global switch off nothing is pushed; settings read back in one call', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const { token, laptop } = await offlineBob(t, 1);
    const settings = await laptop.expect({ type: 'settings_update', pushEnabled: false }, 'settings');
    assert.equal(settings.pushEnabled, false);
    await laptop.close();
    const alice = await t.connect('alice');
    const ack = await alice.sendText({ user: 'bob' }, 'hello', 'c1');
    assert.deepEqual(await pushOutcomes(t, ack, 'bob'), ['suppressed:push_disabled']);
    assert.equal(apnsTo(env.apnsDev, token).length, 0);
    const again = await t.connect('bob', 'bob-laptop', 'desktop');
    const read = await again.expect({ type: 'settings_get' }, 'settings');
    assert.deepEqual({ ...read, ref: undefined }, { type: 'settings', ref: undefined, displayName: null, displayStyle: 'banner', dnd: null, pushEnabled: false, syncBadges: true, muted: [], blocked: [] });
  } finally {
    await t.stop();
  }
});

test('SET-4: muted peers and muted groups are not pushed; unmuting restores pushes', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const { token, laptop } = await offlineBob(t, 2);
    const alice = await t.connect('alice');
    await alice.expect({ type: 'group_create', groupId: 'noisy', name: 'Noisy', members: ['bob'] }, 'group_created');
    await laptop.expect({ type: 'mute', to: { user: 'alice' }, muted: true }, 'settings');
    const muted = await laptop.expect({ type: 'mute', to: { group: 'noisy' }, muted: true }, 'settings');
    assert.deepEqual(muted.muted, ['g:noisy', 'p:alice:bob']);
    await laptop.close();
    const peer = await alice.sendText({ user: 'bob' }, 'psst', 'c1');
    const group = await alice.sendText({ group: 'noisy' }, 'spam', 'c2');
    assert.deepEqual(await pushOutcomes(t, peer, 'bob'), ['suppressed:muted']);
    assert.deepEqual(await pushOutcomes(t, group, 'bob'), ['suppressed:muted']);
    const back = await t.connect('bob', 'bob-laptop', 'desktop');
    await back.expect({ type: 'mute', to: { user: 'alice' }, muted: false }, 'settings');
    await back.close();
    const after = await alice.sendText({ user: 'bob' }, 'now?', 'c3');
    assert.deepEqual(await pushOutcomes(t, after, 'bob'), ['pushed:delivered']);
    assert.equal(apnsTo(env.apnsDev, token).length, 1);
  } finally {
    await t.stop();
  }
});

test('SET-6: a blocked sender\'s peer messages are refused, their group messages never pushed', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const { token, laptop } = await offlineBob(t, 3);
    const mallory = await t.connect('mallory');
    await mallory.expect({ type: 'group_create', groupId: 'g', name: 'g', members: ['bob'] }, 'group_created');
    await laptop.expect({ type: 'block', user: 'mallory', blocked: true }, 'settings');
    await laptop.close();
    const refused = await mallory.sendText({ user: 'bob' }, 'hi', 'm1');
    assert.equal(refused.type === 'error' && refused.code, 'blocked');
    const inGroup = await mallory.sendText({ group: 'g' }, 'hi all', 'm2');
    assert.deepEqual(await pushOutcomes(t, inGroup, 'bob'), ['suppressed:blocked']);
    assert.equal(apnsTo(env.apnsDev, token).length, 0);
    const stored = await t.server.ctx.store.db.selectFrom('events').select('id').where('client_msg_id', '=', 'm1').execute();
    assert.equal(stored.length, 0, 'the refused message was not stored');
  } finally {
    await t.stop();
  }
});

test('SET-3/OPT-3: inside a do-not-disturb window that wraps midnight (Asia/Kolkata) only forced pushes go out', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const { token, laptop } = await offlineBob(t, 4);
    const zone = 'Asia/Kolkata';
    const now = localMinutes(Date.now(), zone);
    // A 23-hour window that wraps past local midnight and contains now: its one-hour gap
    // [end, start) is placed at noon, or at 01:00 when now is near noon (a fixed offset from
    // now did not wrap in the hour after local midnight).
    const end = now >= 660 && now < 840 ? 60 : 720;
    const start = end + 60;
    assert.ok(start > end, 'the window wraps midnight');
    await laptop.expect({ type: 'settings_update', dnd: { start, end, timeZone: zone } }, 'settings');
    const badZone = await laptop.request({ type: 'settings_update', dnd: { start: 0, end: 60, timeZone: 'Mars/Olympus' } });
    assert.equal(badZone.type === 'error' && badZone.code, 'bad_settings');
    await laptop.close();
    const alice = await t.connect('alice');
    const quiet = await alice.sendText({ user: 'bob' }, 'shh', 'c1');
    assert.deepEqual(await pushOutcomes(t, quiet, 'bob'), ['suppressed:dnd']);
    const urgent = await alice.request({ type: 'send', clientMsgId: 'c2', to: { user: 'bob' }, content: { type: 'text', text: 'server down' }, push: { force: true, content: 'server down' } });
    assert.deepEqual(await pushOutcomes(t, urgent, 'bob'), ['pushed:delivered']);
    const pushes = await waitForPushes(() => apnsTo(env.apnsDev, token), 1);
    assert.equal(payloadOf(pushes[0]!).aps.alert.body, 'server down');
    assert.equal(apnsTo(env.apnsDev, token).length, 1);
  } finally {
    await t.stop();
  }
});

test('OPT-4/MSG-5: no-push messages and custom messages without push text are not pushed', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const { token } = await offlineBob(t, 5);
    const alice = await t.connect('alice');
    const silent = await alice.request({ type: 'send', clientMsgId: 'c1', to: { user: 'bob' }, content: { type: 'text', text: 'quiet' }, push: { noPush: true } });
    const custom = await alice.request({ type: 'send', clientMsgId: 'c2', to: { user: 'bob' }, content: { type: 'custom', data: '{"sticker":7}' } });
    const described = await alice.request({ type: 'send', clientMsgId: 'c3', to: { user: 'bob' }, content: { type: 'custom', data: '{"sticker":8}' }, push: { content: '[Sticker]' } });
    assert.deepEqual(await pushOutcomes(t, silent, 'bob'), ['suppressed:no_push_option']);
    assert.deepEqual(await pushOutcomes(t, custom, 'bob'), ['suppressed:custom_without_text']);
    assert.deepEqual(await pushOutcomes(t, described, 'bob'), ['pushed:delivered']);
    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, token), 1);
    assert.equal(payloadOf(push!).aps.alert.body, '[Sticker]');
    assert.equal(apnsTo(env.apnsDev, token).length, 1);
  } finally {
    await t.stop();
  }
});

test('SET-1/SET-2/OPT-1/OPT-2/PAY-3: banner by default, summary with the display name on request; options and custom keys reach both vendors', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const { token, laptop } = await offlineBob(t, 6);
    const alice = await t.connect('alice');
    await alice.expect({ type: 'settings_update', displayName: 'Alice Liddell' }, 'settings');
    await alice.sendText({ user: 'bob' }, 'private text', 'c1');
    const [banner] = await waitForPushes(() => apnsTo(env.apnsDev, token), 1);
    assert.deepEqual(payloadOf(banner!).aps.alert, { title: 'New message', body: 'You have a new message' }, 'privacy default hides sender and text');
    await laptop.expect({ type: 'settings_update', displayStyle: 'summary' }, 'settings');
    await alice.sendText({ user: 'bob' }, 'see you at 5', 'c2');
    const [, summary] = await waitForPushes(() => apnsTo(env.apnsDev, token), 2);
    assert.deepEqual(payloadOf(summary!).aps.alert, { title: 'Alice Liddell', body: 'see you at 5' });
    await alice.request({ type: 'send', clientMsgId: 'c3', to: { user: 'bob' }, content: { type: 'text', text: 'x' },
      push: { title: 'Custom title', content: 'Custom body', sound: 'ping.caf', mutableContent: true, custom: { custom1: 'v1' }, payload: 'deep-link' } });
    const [, , custom] = await waitForPushes(() => apnsTo(env.apnsDev, token), 3);
    const aps = custom!.payload as { aps: Record<string, unknown>; custom1: string; payload: string };
    assert.deepEqual(aps.aps.alert, { title: 'Custom title', body: 'Custom body' });
    assert.equal(aps.aps.sound, 'ping.caf');
    assert.equal(aps.aps['mutable-content'], 1);
    assert.equal(aps.custom1, 'v1');
    assert.equal(aps.payload, 'deep-link');
    // FCM: notification + string-only data + android block.
    const pixelToken = fcmToken('bob-pixel-6');
    const pixel = await t.connect('bob', 'bob-pixel', 'android');
    await registerFcm(pixel, pixelToken);
    await pixel.close();
    await settlePush(t);
    await alice.request({ type: 'send', clientMsgId: 'c4', to: { user: 'bob' }, content: { type: 'text', text: 'y' }, push: { title: 'T', content: 'B', custom: { custom1: 'v2' } } });
    // The new device also gets the earlier messages it never acked (MSG-4); pick this one.
    const [fcm] = await waitForPushes(() => env.fcm.received.filter((m) => m.message.token === pixelToken && (m.message.data as Record<string, string>).custom1 === 'v2'), 1);
    const message = fcm!.message as { notification: { title: string; body: string }; data: Record<string, string>; android: { priority: string } };
    assert.deepEqual(message.notification, { title: 'T', body: 'B' });
    assert.equal(message.data.custom1, 'v2');
    assert.equal(message.data.sender, 'alice');
    assert.ok(Object.values(message.data).every((v) => typeof v === 'string'));
    assert.equal(message.android.priority, 'high');
  } finally {
    await t.stop();
  }
});

test('PAY-2: the badge is the exact unread count, lowered by reads on another device', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const { token, laptop } = await offlineBob(t, 7);
    const alice = await t.connect('alice');
    const acks = [];
    for (let i = 1; i <= 3; i++) {
      acks.push(await alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`));
      await waitForPushes(() => apnsTo(env.apnsDev, token), i);
    }
    assert.deepEqual(apnsTo(env.apnsDev, token).map((p) => payloadOf(p).aps.badge), [1, 2, 3]);
    const second = acks[1]!;
    await laptop.expect({ type: 'read', conversation: 'p:alice:bob', upTo: second.type === 'send_ack' ? second.eventId : 0 }, 'ok');
    await alice.sendText({ user: 'bob' }, 'm4', 'c4');
    await waitForPushes(() => apnsTo(env.apnsDev, token), 4);
    assert.equal(payloadOf(apnsTo(env.apnsDev, token)[3]!).aps.badge, 2, 'one unread left plus the new one');
  } finally {
    await t.stop();
  }
});

test('PAY-4: twenty queued messages collapse into one notification per conversation with badge 20', async () => {
  const t = await startTestServer({ push: pushTestConfig(env, { collapseWindowMs: 400 }) });
  try {
    const { token } = await offlineBob(t, 8);
    const alice = await t.connect('alice');
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`)));
    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, token), 1, 5000);
    await settlePush(t);
    await sleep(600);
    assert.equal(apnsTo(env.apnsDev, token).length, 1, 'one notification');
    const payload = payloadOf(push!);
    assert.equal(payload.aps.badge, 20);
    assert.equal(payload.count, '20');
    assert.equal(payload.aps.alert.body, 'You have 20 new messages');
    assert.equal(push!.headers['apns-collapse-id'], 'p:alice:bob');
    const outcomes = (await Promise.all(acks.map((a) => pushOutcomes(t, a, 'bob')))).flat();
    assert.equal(outcomes.filter((o) => o === 'pushed:delivered').length, 1);
    assert.equal(outcomes.filter((o) => o === 'cancelled:collapsed').length, 19);
  } finally {
    await t.stop();
  }
});

test('PAY-4: a folded group whose newest message is a no-push message still pushes the others', async () => {
  const t = await startTestServer({ push: pushTestConfig(env, { collapseWindowMs: 400 }) });
  try {
    const { token } = await offlineBob(t, 9);
    const alice = await t.connect('alice');
    const important = await alice.sendText({ user: 'bob' }, 'important', 'c1');
    await alice.request({ type: 'send', clientMsgId: 'c2', to: { user: 'bob' }, content: { type: 'text', text: 'never mind' }, push: { noPush: true } });
    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, token), 1, 5000);
    assert.equal((push!.payload as { messageId: string }).messageId, important.type === 'send_ack' ? important.messageId : '');
    assert.deepEqual(await pushOutcomes(t, important, 'bob'), ['pushed:delivered']);
  } finally {
    await t.stop();
  }
});
