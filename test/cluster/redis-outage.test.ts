/**
 * The broker is at most once and Redis can go away; neither loses an event. Broker publications
 * dropped on purpose (cluster.chaosDropRate) are filled from the inbox; a Redis restarted (empty)
 * mid-test leaves every stored message delivered live once, and pushed once to an offline device.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { apnsTo, apnsToken, registerApns, startPushEnv, type PushEnv } from '../helpers/push-env.ts';
import { eventually, sleep } from '../helpers/server.ts';
import { TrackedDevice } from '../reliability/harness.ts';
import { NEEDS_POSTGRES, startCluster } from './harness.ts';

const skip = NEEDS_POSTGRES;
let env: PushEnv | undefined;
before(async () => { if (!NEEDS_POSTGRES) env = await startPushEnv(); });
after(async () => { await env?.close(); });

/** A live device as a real client keeps it: acking, and pinging at its heartbeat (the catch-up check rides on it). */
async function liveDevice(url: string, token: string, user: string, deviceId: string): Promise<{ device: TrackedDevice; stop(): void }> {
  const device = new TrackedDevice(user, deviceId);
  await device.connect(url, token);
  const timer = setInterval(() => { if (device.online) device.client!.send({ type: 'ping' }); }, 250);
  timer.unref();
  return { device, stop: () => clearInterval(timer) };
}

test('SYNC-1 across nodes: with most broker publications dropped, every event still arrives live, in order, once', { skip, timeout: 60_000 }, async () => {
  const cluster = await startCluster({ nodes: 2, cluster: { chaosDropRate: 0.7 } });
  try {
    const bob = await liveDevice(cluster.url(1), cluster.token('b-bob'), 'b-bob', 'b-bob-phone');
    const carol = await liveDevice(cluster.url(0), cluster.token('b-carol'), 'b-carol', 'b-carol-phone');
    const alice = await cluster.connect(0, 'b-alice', 'b-alice-web', 'web');
    await alice.expect({ type: 'group_create', groupId: 'lossy', name: 'Lossy', members: ['b-bob', 'b-carol'] }, 'group_created');
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const to = i % 2 === 0 ? { user: 'b-bob' } : { group: 'lossy' };
      const ack = await alice.sendText(to, `m ${i}`, `b-${i}`);
      assert.equal(ack.type, 'send_ack');
      if (ack.type === 'send_ack') sent.push(ack.messageId);
      if (i % 8 === 0) await sleep(50);
    }
    await eventually(() => bob.device.messageIds().length === 40, 10_000, 'bob has all 40');
    await eventually(() => carol.device.messageIds().length === 20, 10_000, 'carol has the 20 group messages');
    await sleep(500);
    assert.deepEqual(bob.device.messageIds(), sent, 'in order');
    assert.deepEqual([bob.device.duplicates, bob.device.gaps, carol.device.duplicates, carol.device.gaps], [[], [], [], []]);
    const metrics = await (await fetch(`${cluster.node(1).httpUrl}/metrics`)).text();
    assert.match(metrics, /tidings_/, 'node 2 is up and counting');
    bob.stop();
    carol.stop();
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.output()}`);
  } finally {
    await cluster.stop();
  }
});

test('OPS-3 across nodes: Redis restarted (empty) mid-test: sends are stored meanwhile, logins refused retryably, and afterwards nothing is lost or doubled', { skip, timeout: 90_000 }, async () => {
  const cluster = await startCluster({ nodes: 2, config: { push: { credentials: env!.credentials, retryBaseMs: 50, retryMaxMs: 300, pollMs: 20, startupGraceMs: 60_000, collapseWindowMs: 0 } } });
  try {
    const token = apnsToken(0x4ed15);
    const away = await cluster.connect(1, 'o-bob', 'o-bob-iphone', 'ios');
    await registerApns(away, token);
    await away.close();
    const bob = await liveDevice(cluster.url(1), cluster.token('o-bob'), 'o-bob', 'o-bob-tab');
    const alice = await cluster.connect(0, 'o-alice', 'o-alice-web', 'web');
    const sent: string[] = [];
    const send = async (i: number) => {
      const ack = await alice.sendText({ user: 'o-bob' }, `m ${i}`, `o-${i}`);
      assert.equal(ack.type, 'send_ack', JSON.stringify(ack));
      if (ack.type === 'send_ack') sent.push(ack.messageId);
    };
    for (let i = 0; i < 3; i++) await send(i);
    await eventually(() => bob.device.messageIds().length === 3 && apnsTo(env!.apnsDev, token).length === 3, 5000, 'before the outage');

    const outage = cluster.redis.restart(3000);
    await sleep(300);
    // Redis is down: a send is still stored (PostgreSQL holds the log) and acked.
    for (let i = 3; i < 6; i++) await send(i);
    // A login needs the presence directory: refused, retryably, not hung and not half-done.
    const late = await TestClient.connect(cluster.url(0));
    late.send({ type: 'login', token: cluster.token('o-dave'), deviceId: 'o-dave-phone', platform: 'android' });
    const refused = await late.waitFor((f) => f.type === 'error' || f.type === 'login_ok', 15_000, 'login answer');
    assert.ok(refused.type === 'error' && refused.retryable, `refused retryably: ${JSON.stringify(refused)}`);
    late.socket.terminate();
    await outage;

    // Redis is back, empty: nodes re-assert presence and re-subscribe; service resumes.
    for (let i = 6; i < 9; i++) await send(i);
    await eventually(() => bob.device.messageIds().length === 9, 15_000, 'bob has all 9');
    await eventually(() => apnsTo(env!.apnsDev, token).length >= 9, 15_000, '9 pushes to the offline iPhone');
    await sleep(1000);
    assert.deepEqual(bob.device.messageIds(), sent, 'live device: in order');
    assert.deepEqual([bob.device.duplicates, bob.device.gaps], [[], []]);
    const pushed = apnsTo(env!.apnsDev, token).map((p) => (p.payload as { messageId: string }).messageId);
    assert.deepEqual(pushed.sort(), [...sent].sort(), 'offline device: each message pushed once');
    const dave = await cluster.connect(0, 'o-dave', 'o-dave-phone', 'android');
    assert.equal((await dave.sendText({ user: 'o-bob' }, 'after', 'o-after')).type, 'send_ack', 'logins work again');
    for (const n of cluster.nodes) assert.equal(n?.process.exitCode, null, 'no node crashed');
    bob.stop();
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.output()}`);
  } finally {
    await cluster.stop();
  }
});
