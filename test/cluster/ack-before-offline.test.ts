/**
 * MSG-4 across nodes: "un-acked" is judged by whichever node finds the device offline, and that
 * node reads the ack cursor from the database. A node holding a session keeps its acks in memory
 * until they ride along with a commit, so it must commit the device's last ack before the
 * presence directory lets the device go; otherwise another node, late with its push decision,
 * pushes a message the device already acked (pushed_after_ack in `tidings load --cluster`).
 * Acks are held for a minute here (storage.cursorFlushMs), so only that ordering can save them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apnsToken, registerApns, startPushEnv, type PushEnv } from '../helpers/push-env.ts';
import { eventually } from '../helpers/server.ts';
import { NEEDS_POSTGRES, startCluster } from './harness.ts';

const skip = NEEDS_POSTGRES;
let env: PushEnv | undefined;
before(async () => { if (!NEEDS_POSTGRES) env = await startPushEnv(); });
after(async () => { await env?.close(); });

interface Devices { sessions: Array<{ deviceId: string }> }
interface Explained { recipients: Array<{ userId: string; devices: Array<{ deviceId: string | null; outcome: string }> }> }

test('MSG-4 across nodes: once a device is offline, every node sees the acks it sent before it went', { skip, timeout: 60_000 }, async () => {
  const cluster = await startCluster({
    nodes: 2,
    config: { storage: { cursorFlushMs: 60_000 }, push: { credentials: env!.credentials, pollMs: 20, collapseWindowMs: 0 } },
  });
  try {
    const bob = await cluster.connect(1, 'o-bob', 'o-bob-iphone', 'ios');
    await registerApns(bob, apnsToken(0x0ab0f));
    await bob.sync();
    const alice = await cluster.connect(0, 'o-alice', 'o-alice-web', 'web');
    const ack = await alice.sendText({ user: 'o-bob' }, 'read it, then leave', 'o-1');
    assert.equal(ack.type, 'send_ack', JSON.stringify(ack));
    const messageId = ack.type === 'send_ack' ? ack.messageId : '';
    await bob.waitForEvents(1);
    bob.ackAll();
    // The ack reached node 2 (it answers frames in order) before the socket closes.
    await bob.sync();
    await bob.close();

    const node1 = cluster.node(0);
    await eventually(async () => {
      const devices = await (await node1.admin('/admin/devices?user=o-bob')).json() as Devices;
      return devices.sessions.length === 0;
    }, 10_000, 'node 1 finds the iPhone offline');
    const why = await (await node1.admin(`/admin/trace?message=${messageId}&user=o-bob`)).json() as Explained;
    const iphone = why.recipients.find((r) => r.userId === 'o-bob')?.devices.find((d) => d.deviceId === 'o-bob-iphone');
    assert.equal(iphone?.outcome, 'suppressed:online', `node 1 reads the ack node 2 took: ${JSON.stringify(why)}`);
    await alice.close();
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.output()}`);
  } finally {
    await cluster.stop();
  }
});
