/**
 * OPS-3 with several dispatchers on one PostgreSQL database: two real server processes share it.
 * Process A claims push jobs and is killed -9 while they are `sending` (the fake APNs holds its
 * answers); process B, running beside it, leaves them alone while A's lease runs, then claims and
 * sends each of them once (same apns-id: the vendor deduplicates a resend across a crash). B is
 * stopped (SIGSTOP) while A claims, so that A, not B, is the one holding the jobs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../server/auth/tokens.ts';
import { TestClient } from '../helpers/client.ts';
import { createPgDatabase, TEST_DIALECT, TEST_DIALECTS } from '../helpers/dialects.ts';
import { apnsTo, apnsToken, registerApns, startPushEnv } from '../helpers/push-env.ts';
import { ADMIN_SECRET, eventually, sleep, TEST_SECRET } from '../helpers/server.ts';
import { startChild, type Child } from '../reliability/harness.ts';

const skip = TEST_DIALECTS.includes('postgres') || TEST_DIALECT === 'postgres' ? false : 'PostgreSQL is not among TIDINGS_TEST_DIALECTS';
// The vendor holds its answers just under the APNs client's 5 s request timeout (a timeout would
// make A retry); A's lease must outlast the steps up to the kill.
const LEASE_MS = 3000;
const VENDOR_LATENCY_MS = 4800;

test('OPS-3 (postgres): a dispatcher killed -9 mid-send leaves its jobs to the other process, which sends each once after the lease', { skip, timeout: 90_000 }, async () => {
  const env = await startPushEnv();
  const database = await createPgDatabase();
  const dirs: string[] = [];
  const configFor = (name: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), `tidings-dispatch-${name}-`));
    dirs.push(dataDir);
    const file = join(dataDir, 'config.json');
    writeFileSync(file, JSON.stringify({
      host: '127.0.0.1', port: 0, dataDir, logLevel: 'warn', auth: { secrets: [TEST_SECRET] }, admin: { secret: ADMIN_SECRET },
      storage: { dialect: 'postgres', url: database.url },
      push: { credentials: env.credentials, collapseWindowMs: 0, pollMs: 20, claimLeaseMs: LEASE_MS, startupGraceMs: 60_000, retryBaseMs: 50, retryMaxMs: 200, maxAttempts: 1000 },
    }));
    return file;
  };
  const jobsIn = async (server: Child, state: string) => ((await (await server.admin(`/admin/push-jobs?user=bob&state=${state}`)).json()) as { jobs: Array<{ idempotencyKey: string }> }).jobs;
  const clients: TestClient[] = [];
  let a: Child | undefined;
  let b: Child | undefined;
  try {
    // A's pushes reach the vendor, whose answers are held: the jobs stay `sending` in A's hands.
    env.apnsDev.control.latencyMs = VENDOR_LATENCY_MS;
    a = await startChild(configFor('a'));
    b = await startChild(configFor('b'));
    b.process.kill('SIGSTOP');
    const token = apnsToken(0xd15);
    const bob = await TestClient.connect(a.url);
    clients.push(bob);
    await bob.login(mintToken(TEST_SECRET, 'bob', 600), 'bob-iphone', 'ios');
    await registerApns(bob, token);
    await bob.close();
    const alice = await TestClient.connect(a.url);
    clients.push(alice);
    await alice.login(mintToken(TEST_SECRET, 'alice', 600), 'alice-phone', 'android');
    for (let i = 0; i < 3; i++) assert.equal((await alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`)).type, 'send_ack');
    await eventually(() => apnsTo(env.apnsDev, token).length === 3, 10_000, 'A to send three pushes');
    const claimedBefore = Math.max(...apnsTo(env.apnsDev, token).map((p) => p.receivedAt));
    const sentByA = apnsTo(env.apnsDev, token).map((p) => p.headers['apns-id']).sort();

    // B runs again beside A while A is still sending: A's leased jobs are not B's.
    b.process.kill('SIGCONT');
    assert.equal((await jobsIn(b, 'sending')).length, 3, 'B sees the jobs in flight and leaves them');
    await sleep(200);
    assert.equal(apnsTo(env.apnsDev, token).length, 3, 'B sent nothing while the lease runs');
    assert.ok(Date.now() < claimedBefore + Math.min(LEASE_MS, VENDOR_LATENCY_MS) - 300, 'A is killed while its jobs are still in flight');

    const killedAt = Date.now();
    await a.kill('SIGKILL');
    alice.socket.terminate();
    env.apnsDev.control.latencyMs = 0;

    await eventually(() => apnsTo(env.apnsDev, token).length === 6, 15_000, 'B to send the three jobs after the lease');
    const resent = apnsTo(env.apnsDev, token).filter((p) => p.receivedAt >= killedAt);
    assert.equal(resent.length, 3);
    assert.ok(resent.every((p) => p.receivedAt >= claimedBefore + LEASE_MS - 200), 'not before A\'s lease lapsed');
    assert.deepEqual(resent.map((p) => p.headers['apns-id']).sort(), sentByA, 'the same apns-ids: one push per (device, event) to the vendor');
    await eventually(async () => (await jobsIn(b!, 'delivered')).length === 3, 5000, 'three jobs delivered');
    await sleep(LEASE_MS + 500);
    assert.equal(apnsTo(env.apnsDev, token).length, 6, 'each sent once by B, nothing more');
  } finally {
    for (const client of clients) client.socket.terminate();
    b?.process.kill('SIGCONT');
    await Promise.allSettled([a?.kill('SIGKILL'), b?.kill('SIGKILL')]);
    await env.close();
    await database.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});
