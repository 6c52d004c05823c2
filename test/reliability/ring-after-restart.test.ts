import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../server/auth/tokens.ts';
import { TestClient } from '../helpers/client.ts';
import { writeChildConfig } from '../helpers/child-server.ts';
import { apnsTo, apnsToken, registerApns, startPushEnv } from '../helpers/push-env.ts';
import { eventually, TEST_SECRET } from '../helpers/server.ts';
import { sleep, startChild, type Child } from './harness.ts';

/**
 * MSG-3 across a restart: "at start, calls whose deadline passed while the server was down are
 * timed out at once" and "a ring that is still queued when the call ends is not sent". A ring job
 * still in the outbox (vendor retrying) when the server goes down must not ring the phone after
 * the restart for a call whose deadline has already passed; only the missed-call alert may go out.
 *
 * Found by crash-durability.test.ts (a ring for the killed call arrived after the restart).
 */
for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`MSG-3: no ring push after a ${signal} restart for a call whose deadline passed while the server was down`, { timeout: 60_000 }, async () => {
    const env = await startPushEnv();
    const dataDir = mkdtempSync(join(tmpdir(), 'tidings-ring-'));
    const configFile = writeChildConfig(dataDir, {
      push: { credentials: env.credentials, collapseWindowMs: 0, startupGraceMs: 300, retryBaseMs: 50, retryMaxMs: 200, pollMs: 20, maxAttempts: 1000 },
    });
    let server: Child = await startChild(configFile);
    const clients: TestClient[] = [];
    try {
      const token = apnsToken(0xca11);
      env.apnsDev.control.failNext(100_000, 503, 'ServiceUnavailable'); // the ring stays queued, retrying
      const dave = await TestClient.connect(server.url);
      clients.push(dave);
      await dave.login(mintToken(TEST_SECRET, 'dave', 600), 'dave-iphone', 'ios');
      await registerApns(dave, token);
      await dave.close();
      const alice = await TestClient.connect(server.url);
      clients.push(alice);
      await alice.login(mintToken(TEST_SECRET, 'alice', 600), 'alice-phone', 'android');
      const created = await alice.expect({ type: 'call_invite', invitees: ['dave'], timeoutSec: 1 }, 'call_created');
      await eventually(async () => {
        const { jobs } = await (await server.admin('/admin/push-jobs?user=dave')).json() as { jobs: Array<{ attempts: number; state: string }> };
        return jobs.length === 1 && jobs[0]!.attempts >= 1;
      }, 5000, 'the ring job to be failing and queued');

      await server.kill(signal);
      env.apnsDev.control.reset();
      while (Date.now() < created.deadline + 200) await sleep(50);
      const restartedAt = Date.now();
      server = await startChild(configFile);

      const pushes = () => apnsTo(env.apnsDev, token).map((p) => ({ type: (p.payload as { type?: string }).type, at: p.receivedAt }));
      await eventually(() => pushes().some((p) => p.type === 'missed_call'), 8000, 'the missed-call push');
      await sleep(300);
      assert.deepEqual(pushes().filter((p) => p.type === 'call_ring').map((p) => `ring at +${p.at - restartedAt} ms after restart, ${p.at - created.deadline} ms after the deadline`), [],
        'a ring push was sent after the restart for a call whose deadline had passed');
    } finally {
      await server.kill('SIGKILL');
      for (const client of clients) client.socket.terminate();
      await env.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
