import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../server/auth/tokens.ts';
import { TestClient } from '../helpers/client.ts';
import { startChildServer, writeChildConfig } from '../helpers/child-server.ts';
import { apnsTo, apnsToken, registerApns, startPushEnv, waitForPushes } from '../helpers/push-env.ts';
import { eventually, sleep, TEST_SECRET } from '../helpers/server.ts';

test('OPS-3: push jobs pending when the server is killed -9 are each delivered once after restart', async () => {
  const env = await startPushEnv();
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-kill-'));
  const configFile = writeChildConfig(dataDir, {
    push: { credentials: env.credentials, retryBaseMs: 100, retryMaxMs: 200, pollMs: 20, maxAttempts: 1000, startupGraceMs: 300, collapseWindowMs: 0 },
  });
  let server = await startChildServer(configFile);
  try {
    const token = apnsToken(0xc1a5);
    env.apnsDev.control.failNext(100000, 503, 'ServiceUnavailable');
    const bob = await TestClient.connect(server.url);
    await bob.login(mintToken(TEST_SECRET, 'bob', 600), 'bob-iphone', 'ios');
    await registerApns(bob, token);
    await bob.close();
    const alice = await TestClient.connect(server.url);
    await alice.login(mintToken(TEST_SECRET, 'alice', 600), 'alice-phone', 'android');
    for (let i = 0; i < 5; i++) assert.equal((await alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`)).type, 'send_ack');
    await eventually(async () => {
      const { jobs } = await (await server.admin('/admin/push-jobs?user=bob')).json() as { jobs: Array<{ attempts: number }> };
      return jobs.length === 5 && jobs.every((j) => j.attempts >= 1);
    }, 5000, 'five failing jobs');
    alice.socket.terminate();
    assert.equal(await server.kill('SIGKILL'), null);
    env.apnsDev.control.reset();
    assert.equal(apnsTo(env.apnsDev, token).length, 0);
    server = await startChildServer(configFile);
    const pushes = await waitForPushes(() => apnsTo(env.apnsDev, token), 5, 8000);
    await sleep(800);
    assert.equal(apnsTo(env.apnsDev, token).length, 5, 'each pending job delivered exactly once');
    assert.equal(new Set(pushes.map((p) => (p.payload as { messageId: string }).messageId)).size, 5);
  } finally {
    await server.kill('SIGKILL');
    await env.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
