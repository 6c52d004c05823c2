/**
 * A node dies (kill -9): its devices that come back on another node resync with no gap and no
 * duplicate; those that do not are declared offline once the dead node's presence entries expire,
 * and each of their un-acked events is pushed exactly once (MSG-4, OPS-3); pushes the dead node had
 * claimed are sent by another node after the claim lease.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DeliveredEvent } from '../../protocol/index.ts';
import type { TestClient } from '../helpers/client.ts';
import { apnsTo, apnsToken, registerApns, startPushEnv, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep } from '../helpers/server.ts';
import { TrackedDevice } from '../reliability/harness.ts';
import { NEEDS_POSTGRES, startCluster } from './harness.ts';

const skip = NEEDS_POSTGRES;
let env: PushEnv | undefined;
before(async () => { if (!NEEDS_POSTGRES) env = await startPushEnv(); });
after(async () => { await env?.close(); });

const PUSH = () => ({ credentials: env!.credentials, retryBaseMs: 50, retryMaxMs: 200, pollMs: 20, startupGraceMs: 0, collapseWindowMs: 0, claimLeaseMs: 1500 });
const messageIds = (client: TestClient) => client.events.flatMap((e: DeliveredEvent) => (e.kind === 'message' ? [e.messageId] : []));
const pushedIds = (token: string) => apnsTo(env!.apnsDev, token).map((p) => (p.payload as { messageId: string }).messageId);

test('MSG-4/ON-2 across nodes: kill -9 of a node: devices that stay away are pushed their un-acked events once each; one that moves resyncs exactly', { skip, timeout: 60_000 }, async () => {
  const cluster = await startCluster({ nodes: 2, config: { push: PUSH(), heartbeat: { intervalMs: 30_000, timeoutMs: 120_000 } } });
  try {
    const ackedToken = apnsToken(0xf1a);
    const unackedToken = apnsToken(0xf1b);
    const moverToken = apnsToken(0xf1c);
    // On node 1: bob's iPad acks everything it gets, bob's iPhone acks nothing, carol's iPhone will move.
    const ipad = await cluster.connect(0, 'f-bob', 'f-bob-ipad', 'ios');
    const iphone = await cluster.connect(0, 'f-bob', 'f-bob-iphone', 'ios');
    await registerApns(ipad, ackedToken);
    await registerApns(iphone, unackedToken);
    const mover = new TrackedDevice('f-carol', 'f-carol-iphone', { platform: 'ios' });
    await mover.connect(cluster.url(0), cluster.token('f-carol'));
    await registerApns(mover.client!, moverToken);
    await Promise.all([ipad.sync(), iphone.sync()]);
    const alice = await cluster.connect(1, 'f-alice', 'f-alice-web', 'web');

    const send = async (to: string, n: number, prefix: string) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const ack = await alice.sendText({ user: to }, `${prefix} ${i}`, `${to}-${prefix}-${i}`);
        assert.equal(ack.type, 'send_ack');
        if (ack.type === 'send_ack') ids.push(ack.messageId);
      }
      return ids;
    };
    const live = await send('f-bob', 3, 'live');
    const liveCarol = await send('f-carol', 2, 'live');
    await eventually(() => messageIds(ipad).length === 3 && messageIds(iphone).length === 3 && mover.messageIds().length === 2, 5000, 'live on node 1');
    ipad.ackAll();
    await eventually(async () => {
      const { sessions } = await (await cluster.node(1).admin('/admin/devices?user=f-bob')).json() as { sessions: Array<{ deviceId: string }> };
      return sessions.length === 2;
    }, 3000, 'both iPhones listed online');
    await sleep(600); // the ack reaches the database (storage.cursorFlushMs)
    assert.equal(pushedIds(ackedToken).length + pushedIds(unackedToken).length + pushedIds(moverToken).length, 0, 'online: no push (ON-3)');

    await cluster.kill(0);
    // While node 1's entries have not expired, the cluster still counts its devices online.
    const whileDying = await send('f-bob', 2, 'dying');
    const whileDyingCarol = await send('f-carol', 1, 'dying');
    // Carol's phone reconnects at once, to node 2 (as behind a load balancer), and resumes from its cursor.
    await mover.connect(cluster.url(1), cluster.token('f-carol'));
    await eventually(() => mover.messageIds().length === 3, 5000, 'carol resynced');
    assert.deepEqual(mover.messageIds(), [...liveCarol, ...whileDyingCarol]);
    assert.deepEqual([mover.duplicates, mover.gaps], [[], []]);

    // Node 1's entries expire (presenceTtlMs 1500): node 2 declares bob's devices offline (node_lost).
    await eventually(() => pushedIds(ackedToken).length >= 2 && pushedIds(unackedToken).length >= 5, 10_000, 'pushes after expiry');
    const after = await send('f-bob', 1, 'after');
    await eventually(() => pushedIds(unackedToken).length >= 6, 5000, 'the next message is pushed at once');
    await sleep(1500);
    assert.deepEqual(pushedIds(ackedToken).sort(), [...whileDying, ...after].sort(), 'the iPad: everything after its ack, once');
    assert.deepEqual(pushedIds(unackedToken).sort(), [...live, ...whileDying, ...after].sort(), 'the iPhone: all it never acked, once');
    assert.deepEqual(pushedIds(moverToken), [], 'carol came back before the expiry: nothing to push');

    // Node 1 comes back (startup recovery runs at once: startupGraceMs 0): still nothing twice.
    await cluster.restart(0);
    await sleep(1500);
    assert.equal(pushedIds(ackedToken).length, 3);
    assert.equal(pushedIds(unackedToken).length, 6);
    // Nothing acked is lost: the iPad reconnects (to node 1) and resyncs from its cursor.
    const back = await cluster.connect(0, 'f-bob', 'f-bob-ipad', 'ios');
    const done = await back.sync(3);
    assert.deepEqual(messageIds(back), [...whileDying, ...after]);
    assert.equal(done.headSeq, 6);
    await Promise.all([back.close(), alice.close(), mover.client!.close()]);
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.output()}`);
  } finally {
    await cluster.stop();
  }
});

test('OPS-3 across nodes: a push the dead node had claimed (in flight to the vendor) is sent by another node after the lease, with the same id', { skip, timeout: 60_000 }, async () => {
  const cluster = await startCluster({ nodes: 2, config: { push: PUSH() } });
  try {
    const token = apnsToken(0xf2a);
    const bob = await cluster.connect(1, 'l-bob', 'l-bob-iphone', 'ios');
    await registerApns(bob, token);
    await bob.close();
    // Only node 1 dispatches while the message is sent; the vendor is slow to answer.
    await cluster.kill(1);
    env!.apnsDev.control.latencyMs = 5000;
    const alice = await cluster.connect(0, 'l-alice', 'l-alice-web', 'web');
    const ack = await alice.sendText({ user: 'l-bob' }, 'in flight', 'l-1');
    assert.equal(ack.type, 'send_ack');
    await eventually(() => apnsTo(env!.apnsDev, token).length === 1, 5000, 'node 1 sent it');
    await cluster.kill(0);
    env!.apnsDev.control.latencyMs = 0;
    // Node 2 comes up; node 1's claim lapses (claimLeaseMs 1500) and node 2 sends it again.
    await cluster.restart(1);
    await eventually(() => apnsTo(env!.apnsDev, token).length === 2, 8000, 'sent again after the lease');
    await sleep(1000);
    const pushes = apnsTo(env!.apnsDev, token);
    assert.equal(pushes.length, 2, 'once per claim, no more');
    assert.equal(pushes[0]!.apnsId, pushes[1]!.apnsId, 'the same apns-id: the vendor and the app see one notification');
    const { jobs } = await (await cluster.node(1).admin('/admin/push-jobs?user=l-bob')).json() as { jobs: Array<{ state: string }> };
    assert.deepEqual(jobs.map((j) => j.state), ['delivered']);
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.output()}`);
  } finally {
    env!.apnsDev.control.latencyMs = 0;
    await cluster.stop();
  }
});
