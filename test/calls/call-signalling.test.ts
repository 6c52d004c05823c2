import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveredEvent } from '../../protocol/index.ts';
import { apnsTo, apnsToken, BUNDLE, pushTestConfig, registerApns, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import type { TestClient } from '../helpers/client.ts';
import { eventually, sleep, startTestServer } from '../helpers/server.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

const callEvents = (c: TestClient, callId: string) => c.events.filter((e): e is Extract<DeliveredEvent, { kind: 'call_invited' | 'call_state' }> =>
  (e.kind === 'call_invited' || e.kind === 'call_state') && e.callId === callId);

async function registerVoip(client: TestClient, token: string) {
  return client.expect({ type: 'push_register', provider: 'apns-voip', token, credential: 'ios', environment: 'development' }, 'push_registered');
}

test('CALL-1/MSG-3: an online invitee rings, an offline iOS invitee gets a VoIP push; accepting on one device stops the other (CALL-2)', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const voip = apnsToken(0xc0ca1);
    const alert = apnsToken(0xa1e7);
    const carol = await t.connect('carol', 'carol-iphone');
    await registerApns(carol, alert);
    await registerVoip(carol, voip);
    await carol.close();
    const alice = await t.connect('alice', 'alice-phone');
    const bobPhone = await t.connect('bob', 'bob-phone');
    const bobTablet = await t.connect('bob', 'bob-tablet');
    await Promise.all([alice.sync(), bobPhone.sync(), bobTablet.sync()]);
    await t.server.ctx.push.service.settled();

    const created = await alice.expect({ type: 'call_invite', invitees: ['bob', 'carol'], timeoutSec: 30, data: '{"media":"video"}' }, 'call_created');
    const ring = await eventually(() => callEvents(bobTablet, created.callId)[0], 3000, 'ring on tablet');
    assert.equal(ring.kind, 'call_invited');
    assert.ok(ring.kind === 'call_invited' && ring.data === '{"media":"video"}' && ring.invitees.includes('carol'));
    await eventually(() => callEvents(bobPhone, created.callId)[0], 3000, 'ring on phone');

    const [push] = await waitForPushes(() => apnsTo(env.apnsDev, voip), 1);
    assert.equal(push!.headers['apns-push-type'], 'voip');
    assert.equal(push!.headers['apns-topic'], `${BUNDLE}.voip`);
    assert.equal(push!.headers['apns-priority'], '10');
    assert.equal(push!.headers['apns-collapse-id'], `call-${created.callId}`);
    assert.equal((push!.payload as { callId: string }).callId, created.callId);
    assert.equal(apnsTo(env.apnsDev, alert).length, 0, 'a device with a VoIP token gets the ring as VoIP only');

    await bobPhone.expect({ type: 'call_accept', callId: created.callId }, 'ok');
    for (const client of [bobTablet, alice, bobPhone]) {
      const state = await eventually(() => callEvents(client, created.callId).find((e) => e.kind === 'call_state'), 3000, 'call_state');
      assert.ok(state.kind === 'call_state');
      assert.equal(state.state, 'accepted');
      assert.equal(state.invitees.bob, 'accepted');
      assert.equal(state.invitees.carol, 'ringing');
      assert.equal(state.byDevice, 'bob-phone', 'the tablet learns another device answered and stops ringing');
    }
    const again = await bobTablet.request({ type: 'call_accept', callId: created.callId });
    assert.equal(callEvents(alice, created.callId).filter((e) => e.kind === 'call_state' && e.action === 'timeout').length, 0);
    assert.equal(again.type === 'error' && again.code, 'call_ended');
    await alice.expect({ type: 'call_end', callId: created.callId }, 'ok');
    const ended = await eventually(() => callEvents(bobTablet, created.callId).find((e) => e.kind === 'call_state' && e.state === 'ended'), 3000, 'ended');
    assert.ok(ended.kind === 'call_state' && ended.invitees.carol === 'cancelled');
    assert.deepEqual([...alice.invalid, ...bobPhone.invalid, ...bobTablet.invalid], []);
  } finally {
    await t.stop();
  }
});

test('MSG-3: timeout while the invitee is offline gives a VoIP ring then a missed-call alert; on login only the final state', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const voip = apnsToken(0xc0ca2);
    const alert = apnsToken(0xa1e8);
    const carol = await t.connect('carol', 'carol-iphone');
    await registerApns(carol, alert);
    await registerVoip(carol, voip);
    await carol.close();
    await t.server.ctx.push.service.settled();
    const alice = await t.connect('alice');
    const created = await alice.expect({ type: 'call_invite', invitees: ['carol'], timeoutSec: 1 }, 'call_created');
    await waitForPushes(() => apnsTo(env.apnsDev, voip), 1);
    // The call-over (a background push that stops the ring) may reach the same token first.
    const missed = await eventually(() => apnsTo(env.apnsDev, alert).find((p) => (p.payload as { type: string }).type === 'missed_call'), 5000, 'a missed-call push');
    assert.equal(missed!.headers['apns-push-type'], 'alert');
    assert.equal(missed!.headers['apns-collapse-id'], `call-${created.callId}`, 'replaces the ring on the lock screen');
    assert.equal((missed!.payload as { type: string }).type, 'missed_call');
    await sleep(200);
    assert.equal(apnsTo(env.apnsDev, voip).length, 1, 'one ring only');
    const back = await t.connect('carol', 'carol-iphone');
    await back.sync();
    const seen = callEvents(back, created.callId);
    assert.equal(seen.length, 1, 'never a ring for a dead call');
    assert.ok(seen[0]!.kind === 'call_state' && seen[0]!.state === 'timed_out' && seen[0]!.invitees.carol === 'timed_out');
  } finally {
    await t.stop();
  }
});

test('MSG-3: a call cancelled before the invitee reconnects: no ring at login, a missed-call push instead of a late ring', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const alert = apnsToken(0xa1e9);
    const dave = await t.connect('dave', 'dave-pixel');
    await registerApns(dave, alert);
    await dave.close();
    await t.server.ctx.push.service.settled();
    env.apnsDev.control.latencyMs = 300;
    const alice = await t.connect('alice');
    const created = await alice.expect({ type: 'call_invite', invitees: ['dave'] }, 'call_created');
    await alice.expect({ type: 'call_cancel', callId: created.callId }, 'ok');
    // Wait for the missed-call push itself, then for every job: an outbox checked before the
    // call-over jobs were enqueued (on PostgreSQL, a commit later) looked finished while empty.
    const typesSent = () => apnsTo(env.apnsDev, alert).map((p) => (p.payload as { type: string }).type);
    await eventually(() => typesSent().includes('missed_call'), 5000, 'a missed-call push');
    await eventually(async () => {
      const jobs = await t.server.ctx.store.push.jobs({ userId: 'dave' }, 10);
      return jobs.length > 0 && jobs.every((j) => j.state !== 'pending' && j.state !== 'sending');
    }, 5000, 'jobs done');
    const types = typesSent();
    assert.ok(types.includes('missed_call'), `pushes: ${types.join(',')}`);
    const back = await t.connect('dave', 'dave-pixel');
    await back.sync();
    const seen = callEvents(back, created.callId);
    assert.deepEqual(seen.map((e) => e.kind === 'call_state' ? e.state : e.kind), ['cancelled']);
  } finally {
    env.apnsDev.control.reset();
    await t.stop();
  }
});

test('CALL-1: the deadline of a call everyone answered passes without a stray timeout event', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    await Promise.all([alice.sync(), bob.sync()]);
    const created = await alice.expect({ type: 'call_invite', invitees: ['bob'], timeoutSec: 1 }, 'call_created');
    await bob.expect({ type: 'call_accept', callId: created.callId }, 'ok');
    await sleep(1400);
    const states = callEvents(alice, created.callId).filter((e) => e.kind === 'call_state').map((e) => e.kind === 'call_state' ? e.action : '');
    assert.deepEqual(states, ['accept']);
    assert.equal((await t.server.ctx.store.readModels.callsByIds([created.callId])).get(created.callId)?.state, 'accepted');
  } finally {
    await t.stop();
  }
});

test('AUTH-3: only invitees answer, only the inviter cancels; ended and unknown calls give clear errors', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    const bob = await t.connect('bob');
    const mallory = await t.connect('mallory');
    const created = await alice.expect({ type: 'call_invite', invitees: ['bob'] }, 'call_created');
    const steal = await mallory.request({ type: 'call_accept', callId: created.callId });
    assert.equal(steal.type === 'error' && steal.code, 'call_not_invitee');
    const cancelByBob = await bob.request({ type: 'call_cancel', callId: created.callId });
    assert.equal(cancelByBob.type === 'error' && cancelByBob.code, 'call_not_inviter');
    await bob.expect({ type: 'call_reject', callId: created.callId }, 'ok');
    const late = await bob.request({ type: 'call_accept', callId: created.callId });
    assert.equal(late.type === 'error' && late.code, 'call_ended');
    const unknown = await bob.request({ type: 'call_accept', callId: 'nope' });
    assert.equal(unknown.type === 'error' && unknown.code, 'call_not_found');
    const self = await alice.request({ type: 'call_invite', invitees: ['alice'] });
    assert.equal(self.type === 'error' && self.code, 'bad_recipient');
    const calls = await t.server.ctx.store.readModels.callsByIds([created.callId]);
    assert.equal(calls.get(created.callId)?.state, 'rejected');
  } finally {
    await t.stop();
  }
});

test('CALL-1: a restart during a ringing call keeps its timer; a deadline passed while down times out at start', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    // 10 s: outlives the stop, the 1.2 s pause and a restart (which starts the storage writer thread,
    // and on PostgreSQL reconnects) with room to spare on a loaded CI box (4 s did not, once).
    const first = await alice.expect({ type: 'call_invite', invitees: ['bob'], timeoutSec: 10 }, 'call_created');
    const second = await alice.expect({ type: 'call_invite', invitees: ['carol'], timeoutSec: 1 }, 'call_created');
    await t.server.stop();
    await sleep(1200); // the second call's deadline passes while the server is down
    await t.restart();
    const states = async () => t.server.ctx.store.readModels.callsByIds([first.callId, second.callId]);
    await eventually(async () => (await states()).get(second.callId)?.state === 'timed_out', 1000, 'timed out at start');
    assert.equal((await states()).get(first.callId)?.state, 'ringing');
    await eventually(async () => (await states()).get(first.callId)?.state === 'timed_out', 11000, 'timer re-armed after restart');
    const bob = await t.connect('bob');
    await bob.sync();
    assert.deepEqual(callEvents(bob, first.callId).map((e) => e.kind === 'call_state' ? e.state : e.kind), ['timed_out']);
  } finally {
    await t.stop();
  }
});
