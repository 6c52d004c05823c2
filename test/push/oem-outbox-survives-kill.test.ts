import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../server/auth/tokens.ts';
import { TestClient } from '../helpers/client.ts';
import { startChildServer, writeChildConfig } from '../helpers/child-server.ts';
import { OEM_VENDORS, registerOem, startOemPushEnv } from '../helpers/oem-push-env.ts';
import { waitForPushes } from '../helpers/push-env.ts';
import { eventually, sleep, TEST_SECRET } from '../helpers/server.ts';

const PER_VENDOR = 3;

test('OPS-3: OEM and Web Push jobs pending when the server is killed -9 are each delivered once after restart', async () => {
  const oem = await startOemPushEnv();
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-oem-kill-'));
  const configFile = writeChildConfig(dataDir, {
    push: { credentials: oem.credentials, retryBaseMs: 100, retryMaxMs: 200, pollMs: 20, maxAttempts: 1000, startupGraceMs: 300, collapseWindowMs: 0 },
  });
  // Every vendor answers "try later" until the kill.
  const { huawei, honor, xiaomi, oppo, vivo, webpush } = oem.fakes;
  const failAll = () => {
    huawei.control.failNext(100_000, { httpStatus: 503, msg: 'busy' });
    honor.control.failNext(100_000, { httpStatus: 503, message: 'busy' });
    xiaomi.control.failNext(100_000, { code: 10002, description: 'service busy' });
    oppo.control.failNext(100_000, -2);
    vivo.control.failNext(100_000, 10072);
    webpush.control.failNext(100_000, 503);
  };
  failAll();
  let server = await startChildServer(configFile);
  try {
    const tokens = new Map(OEM_VENDORS.map((name) => [name, oem.vendors[name].newToken('kill')]));
    for (const name of OEM_VENDORS) {
      const v = oem.vendors[name];
      const device = await TestClient.connect(server.url);
      await device.login(mintToken(TEST_SECRET, `${name}-bob`, 600), `${name}-bob-dev`, v.platform);
      await registerOem(device, v, tokens.get(name));
      await device.close();
    }
    const alice = await TestClient.connect(server.url);
    await alice.login(mintToken(TEST_SECRET, 'alice', 600), 'alice-phone', 'ios');
    for (const name of OEM_VENDORS) {
      for (let i = 0; i < PER_VENDOR; i++) assert.equal((await alice.sendText({ user: `${name}-bob` }, `m${i}`, `${name}-c${i}`)).type, 'send_ack');
    }
    await eventually(async () => {
      const { jobs } = await (await server.admin('/admin/push-jobs?limit=1000')).json() as { jobs: Array<{ attempts: number; userId: string }> };
      const pending = jobs.filter((j) => j.userId !== 'alice');
      return pending.length === OEM_VENDORS.length * PER_VENDOR && pending.every((j) => j.attempts >= 1);
    }, 10_000, 'every job tried and failing');
    alice.socket.terminate();
    assert.equal(await server.kill('SIGKILL'), null);
    for (const fake of [huawei, honor, xiaomi, oppo, vivo, webpush]) fake.control.reset();
    for (const name of OEM_VENDORS) assert.equal(oem.vendors[name].pushesTo(tokens.get(name)).length, 0, `${name}: nothing before the kill`);
    server = await startChildServer(configFile);
    for (const name of OEM_VENDORS) await waitForPushes(() => oem.vendors[name].pushesTo(tokens.get(name)), PER_VENDOR, 10_000);
    await sleep(800);
    for (const name of OEM_VENDORS) {
      const pushes = oem.vendors[name].pushesTo(tokens.get(name));
      assert.equal(pushes.length, PER_VENDOR, `${name}: each pending job delivered exactly once`);
      assert.equal(new Set(pushes.map((p) => p.data.messageId)).size, PER_VENDOR, `${name}: one push per message`);
    }
  } finally {
    await server.kill('SIGKILL');
    await oem.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
