import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsExposureWarning } from '../../server/app.ts';
import { mintToken } from '../../server/auth/tokens.ts';
import { TestClient } from '../helpers/client.ts';
import { startTestServer, TEST_SECRET } from '../helpers/server.ts';

const METRICS_SECRET = 'metrics-secret-0123456789abcdef';

test('/metrics requires its bearer secret when one is set; without one it stays public', async () => {
  const locked = await startTestServer({ metrics: { secret: METRICS_SECRET } });
  const open = await startTestServer();
  try {
    assert.equal((await fetch(`${locked.httpUrl}/metrics`)).status, 401);
    assert.equal((await fetch(`${locked.httpUrl}/metrics`, { headers: { authorization: 'Bearer wrong-secret-0123456789' } })).status, 401);
    const ok = await fetch(`${locked.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_SECRET}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /tidings_sessions/);
    // The admin secret is not the metrics secret.
    assert.equal((await locked.admin('/metrics')).status, 401);
    assert.equal((await fetch(`${open.httpUrl}/metrics`)).status, 200);
    assert.equal((await fetch(`${locked.httpUrl}/healthz`)).status, 200, 'health stays public');
  } finally {
    await Promise.all([locked.stop(), open.stop()]);
  }
});

test('a public /metrics is warned about at start only when the server listens beyond loopback', () => {
  assert.match(metricsExposureWarning({ host: '0.0.0.0', metrics: {} }) ?? '', /metrics\.secret/);
  assert.match(metricsExposureWarning({ host: '::', metrics: {} }) ?? '', /metrics\.secret/);
  assert.equal(metricsExposureWarning({ host: '127.0.0.1', metrics: {} }), undefined);
  assert.equal(metricsExposureWarning({ host: '::1', metrics: {} }), undefined);
  assert.equal(metricsExposureWarning({ host: '0.0.0.0', metrics: { secret: METRICS_SECRET } }), undefined);
});

test('AUTH-1: a token with a device-id claim logs in that device only', async () => {
  const t = await startTestServer();
  try {
    const token = mintToken(TEST_SECRET, 'alice', 600, Date.now(), { deviceId: 'alice-phone' });
    const right = await TestClient.connect(t.url);
    assert.equal((await right.login(token, 'alice-phone')).deviceId, 'alice-phone');
    const wrong = await TestClient.connect(t.url);
    const refused = await wrong.request({ type: 'login', token, deviceId: 'mallory-phone', platform: 'ios' });
    assert.equal(refused.type === 'error' && refused.code, 'token_device_mismatch');
    // A token without the claim still works when the server does not require one.
    const plain = await TestClient.connect(t.url);
    assert.equal((await plain.login(mintToken(TEST_SECRET, 'bob', 600), 'any-device')).userId, 'bob');
    for (const c of [right, wrong, plain]) c.socket.terminate();
  } finally {
    await t.stop();
  }
});

test('AUTH-1: with auth.requireDeviceClaim a token without a device claim is refused', async () => {
  const t = await startTestServer({ auth: { requireDeviceClaim: true } });
  try {
    const client = await TestClient.connect(t.url);
    const refused = await client.request({ type: 'login', token: mintToken(TEST_SECRET, 'bob', 600), deviceId: 'bob-phone', platform: 'ios' });
    assert.equal(refused.type === 'error' && refused.code, 'token_device_mismatch');
    assert.equal((await client.login(mintToken(TEST_SECRET, 'bob', 600, Date.now(), { deviceId: 'bob-phone' }), 'bob-phone')).userId, 'bob');
    client.socket.terminate();
  } finally {
    await t.stop();
  }
});
