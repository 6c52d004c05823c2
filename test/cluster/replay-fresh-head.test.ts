/**
 * MSG-4 across nodes: a device's offline replay runs on the node that held its session, and that
 * node learns other nodes' commits through broker publications, which may never arrive. The
 * committing node saw the device online and queued nothing (MSG-1 is not its job); so the replay
 * must read the user's newest seq from the database, not from its cache, or the event is never
 * pushed. Every cross-node publication is dropped here (cluster.chaosDropRate 1).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apnsTo, apnsToken, registerApns, startPushEnv, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep } from '../helpers/server.ts';
import { NEEDS_POSTGRES, startCluster } from './harness.ts';

const skip = NEEDS_POSTGRES;
let env: PushEnv | undefined;
before(async () => { if (!NEEDS_POSTGRES) env = await startPushEnv(); });
after(async () => { await env?.close(); });

test('MSG-4 across nodes: a device whose node never heard of a message still has it pushed when it goes offline', { skip, timeout: 60_000 }, async () => {
  const cluster = await startCluster({
    nodes: 2,
    cluster: { chaosDropRate: 1 },
    config: { push: { credentials: env!.credentials, retryBaseMs: 50, retryMaxMs: 300, pollMs: 20, collapseWindowMs: 0 } },
  });
  try {
    const token = apnsToken(0xf5e54);
    // Bob's iPhone on node 2, which caches his head (0); it never pings, so no heartbeat head check
    // makes good the publications node 2 drops.
    const bob = await cluster.connect(1, 'f-bob', 'f-bob-iphone', 'ios');
    await registerApns(bob, token);
    await bob.sync();
    const alice = await cluster.connect(0, 'f-alice', 'f-alice-web', 'web');
    const ack = await alice.sendText({ user: 'f-bob' }, 'while node 2 is deaf', 'f-1');
    assert.equal(ack.type, 'send_ack', JSON.stringify(ack));
    const messageId = ack.type === 'send_ack' ? ack.messageId : '';
    await sleep(500);
    assert.deepEqual(bob.events, [], 'node 2 never heard of it, so nothing was delivered live');
    assert.deepEqual(apnsTo(env!.apnsDev, token), [], 'node 1 saw the iPhone online: no push at commit');

    await bob.close();
    await eventually(() => apnsTo(env!.apnsDev, token).length === 1, 10_000, 'the un-acked message is pushed once the iPhone is offline');
    await sleep(500);
    const pushed = apnsTo(env!.apnsDev, token).map((p) => (p.payload as { messageId: string }).messageId);
    assert.deepEqual(pushed, [messageId], 'exactly once');
    await alice.close();
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.output()}`);
  } finally {
    await cluster.stop();
  }
});
