import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apnsTo, apnsToken, fcmToken, pushOutcomes, pushTestConfig, registerApns, registerFcm, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep, startTestServer } from '../helpers/server.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

test('MSG-1/ON-3: a peer message is pushed once to an offline device and never to an online one', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const bobToken = apnsToken(0xb0b1);
    const carolToken = apnsToken(0xca01);
    const bob = await t.connect('bob', 'bob-iphone');
    await registerApns(bob, bobToken);
    const carol = await t.connect('carol', 'carol-iphone');
    await registerApns(carol, carolToken);
    await carol.sync();
    await bob.close();
    await t.server.ctx.push.service.settled();
    const alice = await t.connect('alice');
    const ack = await alice.request({ type: 'send', clientMsgId: 'c1', to: { user: 'bob' }, content: { type: 'text', text: 'hi bob' }, push: { title: 'Alice', content: 'hi bob', payload: 'open:chat' } });
    assert.equal(ack.type, 'send_ack');
    const toCarol = await alice.request({ type: 'send', clientMsgId: 'c2', to: { user: 'carol' }, content: { type: 'text', text: 'hi carol' } });
    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, bobToken), 1);
    assert.equal(push!.headers['apns-push-type'], 'alert');
    assert.equal(push!.headers['apns-topic'], 'com.example.tidings');
    const payload = push!.payload as { aps: { alert: { title: string; body: string } }; sender: string; receiver: string; messageId: string; conversationType: string; payload: string };
    assert.deepEqual(payload.aps.alert, { title: 'Alice', body: 'hi bob' });
    assert.equal(payload.sender, 'alice');
    assert.equal(payload.receiver, 'bob');
    assert.equal(payload.conversationType, 'peer');
    assert.equal(payload.payload, 'open:chat');
    assert.equal(ack.type === 'send_ack' && payload.messageId, ack.type === 'send_ack' && ack.messageId);
    // Carol was online: she acked it over the socket, `why` says "online", nothing reached Apple for her.
    await carol.waitForEvents(1);
    assert.deepEqual(await pushOutcomes(t, toCarol, 'carol'), ['none:not_acked'], 'delivered on her socket, not acked yet');
    carol.ackAll();
    await eventually(async () => (await pushOutcomes(t, toCarol, 'carol')).includes('suppressed:online') || undefined, 3000, 'carol online outcome');
    assert.deepEqual(await pushOutcomes(t, toCarol, 'carol'), ['suppressed:online']);
    assert.deepEqual(await t.server.ctx.store.push.traceFor({ userId: 'carol' }, 10), [], 'online deliveries write no trace rows');
    await sleep(200);
    assert.equal(apnsTo(env.apnsDev, carolToken).length, 0);
    assert.equal(apnsTo(env.apnsDev, bobToken).length, 1, 'exactly once');
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text();
    assert.match(metrics, /tidings_push_jobs_total\{outcome="pushed:delivered"\} 1\b/);
    assert.match(metrics, /tidings_push_vendor_seconds_count\{provider="apns"\} 1\b/);
    assert.match(metrics, /tidings_push_trigger_seconds_count\{work="committed",phase="run"\} [1-9]/, 'the commit that queued the push is timed');
    // On login bob gets the message over the socket too.
    const bobAgain = await t.connect('bob', 'bob-iphone');
    await bobAgain.sync();
    assert.equal(bobAgain.events.filter((e) => e.kind === 'message').length, 1);
  } finally {
    await t.stop();
  }
});

test('MSG-2: a group message is pushed to each offline member (FCM and APNs), not to the sender or online members', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const tokens = { bob: fcmToken('bob'), dave: apnsToken(0xdae), carol: apnsToken(0xca02), alice: apnsToken(0xa11ce) };
    const alice = await t.connect('alice', 'alice-iphone');
    await registerApns(alice, tokens.alice);
    const bob = await t.connect('bob', 'bob-pixel', 'android');
    await registerFcm(bob, tokens.bob);
    const dave = await t.connect('dave', 'dave-iphone');
    await registerApns(dave, tokens.dave);
    const carol = await t.connect('carol', 'carol-iphone');
    await registerApns(carol, tokens.carol);
    await carol.sync();
    await alice.expect({ type: 'group_create', groupId: 'team', name: 'Team', members: ['bob', 'carol', 'dave'] }, 'group_created');
    await Promise.all([bob.close(), dave.close()]);
    await t.server.ctx.push.service.settled();
    await alice.sendText({ group: 'team' }, 'standup in 5', 'g1');
    const [fcmPush] = await waitForPushes(() => env.fcm.received.filter((m) => m.message.token === tokens.bob), 1);
    const data = fcmPush!.message.data as Record<string, string>;
    assert.equal(data.group, 'team');
    assert.equal(data.conversationType, 'group');
    assert.equal(data.sender, 'alice');
    assert.ok(Object.values(data).every((v) => typeof v === 'string'), 'FCM data values are strings');
    await waitForPushes(() => apnsTo(env.apnsDev, tokens.dave), 1);
    await sleep(200);
    assert.equal(apnsTo(env.apnsDev, tokens.carol).length, 0, 'online member not pushed');
    assert.equal(apnsTo(env.apnsDev, tokens.alice).length, 0, 'sender not pushed');
    assert.equal(env.fcm.received.filter((m) => m.message.token === tokens.bob).length, 1);
  } finally {
    await t.stop();
  }
});

test('DEV-2: a development token goes to the development endpoint, a production token to production', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const devToken = apnsToken(0xde7);
    const prodToken = apnsToken(0x9e0d);
    const devPhone = await t.connect('erin', 'erin-dev-build');
    await registerApns(devPhone, devToken, 'development');
    const prodPhone = await t.connect('erin', 'erin-store-build');
    await registerApns(prodPhone, prodToken, 'production');
    await Promise.all([devPhone.close(), prodPhone.close()]);
    await t.server.ctx.push.service.settled();
    const alice = await t.connect('alice');
    await alice.sendText({ user: 'erin' }, 'which env?', 'e1');
    await waitForPushes(() => apnsTo(env.apnsDev, devToken), 1);
    await waitForPushes(() => apnsTo(env.apnsProd, prodToken), 1);
    assert.equal(apnsTo(env.apnsProd, devToken).length, 0);
    assert.equal(apnsTo(env.apnsDev, prodToken).length, 0);
  } finally {
    await t.stop();
  }
});
