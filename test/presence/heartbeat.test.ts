import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceOffline } from '../../server/domain-events.ts';
import { eventually, sleep, startTestServer } from '../helpers/server.ts';

test('ON-2: a clean close is noticed at once with reason "closed"', async () => {
  const t = await startTestServer({ heartbeat: { intervalMs: 100, timeoutMs: 2000 } });
  try {
    const offline: DeviceOffline[] = [];
    t.server.ctx.events.on('device_offline', 'test', (e) => offline.push(e));
    const alice = await t.connect('alice', 'phone');
    const closedAt = Date.now();
    await alice.close();
    const event = await eventually(() => offline[0], 1000, 'device_offline');
    assert.equal(event.reason, 'closed');
    assert.equal(event.deviceId, 'phone');
    assert.ok(Date.now() - closedAt < 1000, 'noticed well before the heartbeat deadline');
    assert.equal(await t.server.ctx.presence.isOnline('alice', 'phone'), false);
  } finally {
    await t.stop();
  }
});

test('ON-1/ON-2: a device that stops sending (half-open) goes offline at the heartbeat deadline, once', async () => {
  const t = await startTestServer({ heartbeat: { intervalMs: 50, timeoutMs: 300 } });
  try {
    const offline: DeviceOffline[] = [];
    t.server.ctx.events.on('device_offline', 'test', (e) => offline.push(e));
    const silent = await t.connect('alice', 'silent-phone');
    const beating = await t.connect('bob', 'beating-phone');
    const timer = setInterval(() => beating.send({ type: 'ping' }), 50);
    try {
      // The silent client keeps its TCP socket open but sends nothing, like a frozen app.
      await sleep(150);
      assert.equal(offline.length, 0, 'not offline before the deadline');
      const event = await eventually(() => offline.find((e) => e.deviceId === 'silent-phone'), 2000, 'timeout');
      assert.equal(event.reason, 'heartbeat_timeout');
      await sleep(400);
      assert.equal(offline.filter((e) => e.deviceId === 'silent-phone').length, 1, 'exactly one offline event');
      assert.equal(offline.some((e) => e.deviceId === 'beating-phone'), false, 'a device with heartbeats stays online');
      assert.equal(await t.server.ctx.presence.isOnline('bob', 'beating-phone'), true);
      assert.ok(silent.closeCode !== undefined || (await Promise.race([silent.closed, sleep(500).then(() => -1)])) !== -1);
    } finally {
      clearInterval(timer);
    }
  } finally {
    await t.stop();
  }
});
