import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, sleep, startTestServer, type TestServer } from '../helpers/server.ts';
import { TidingsError } from '../../client/src/index.ts';
import { closeClients, sdkClient } from './sdk.ts';

const servers: TestServer[] = [];
async function server(overrides: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(overrides);
  servers.push(s);
  return s;
}
after(async () => {
  await closeClients();
  for (const s of servers) await s.stop();
});

test('AUTH-2, DEV-6: kicked by a second login (single-device policy) → closed, no reconnect', async () => {
  const s = await server({ sessions: { ios: 'single' } });
  const first = sdkClient(s, 'kim', { platform: 'ios', deviceId: 'kim-iphone-1' });
  const kicked: string[] = [];
  first.client.on('kicked', (frame) => kicked.push(frame.byDeviceId ?? ''));
  await first.client.connect();
  const second = await s.connect('kim', 'kim-iphone-2', 'ios');
  await eventually(() => first.client.state === 'closed', 3000, 'the first client closes');
  assert.deepEqual(kicked, ['kim-iphone-2']);
  const closedState = first.states.at(-1)!;
  assert.equal(closedState.reason, 'kicked');
  assert.equal(closedState.closeCode, 4001);
  await sleep(600); // ten times the backoff base
  assert.equal(first.tap.sockets.length, 1, 'never reconnected (it would kick the other device back)');
  assert.ok(await s.server.ctx.presence.isOnline('kim', 'kim-iphone-2'));
  await assert.rejects(first.client.sendText({ user: 'x' }, 'late'), (e: TidingsError) => e.code === 'closed');
  await assert.rejects(first.client.connect(), (e: TidingsError) => e.code === 'closed');
  await second.close();
});

test('DEV-4: logout → logged_out, closed with 4002, no reconnect', async () => {
  const s = await server();
  const c = sdkClient(s, 'lou');
  await c.client.connect();
  await c.client.logout();
  await eventually(() => c.client.state === 'closed', 3000, 'closed after logout');
  assert.equal(c.states.at(-1)!.reason, 'logged_out');
  await sleep(500);
  assert.equal(c.tap.sockets.length, 1);
  assert.equal(await s.server.ctx.presence.isOnline('lou', 'lou-web'), false);
});

test('same device logs in elsewhere (4006 replaced) → closed, no reconnect fight', async () => {
  const s = await server();
  const c = sdkClient(s, 'rae');
  await c.client.connect();
  const other = await s.connect('rae', 'rae-web', 'web');
  await eventually(() => c.client.state === 'closed', 3000, 'replaced');
  assert.equal(c.states.at(-1)!.reason, 'replaced');
  assert.equal(c.states.at(-1)!.closeCode, 4006);
  await sleep(500);
  assert.equal(c.tap.sockets.length, 1);
  await other.close();
});

test('AUTH-1: an expired token → the provider is asked again → login ok; asked on every reconnect', async () => {
  const s = await server();
  const reasons: string[] = [];
  const c = sdkClient(s, 'tom', {
    token: ({ reason }) => {
      reasons.push(reason);
      return reasons.length === 1 ? s.token('tom', -3600) : s.token('tom');
    },
  });
  await c.client.connect();
  assert.deepEqual(reasons, ['connect', 'token_expired']);
  assert.equal(c.tap.sockets.length, 1, 'the second login went over the same connection');
  assert.deepEqual(c.tap.receivedOf('error').map((e) => e.code), ['token_expired']);
  s.server.ctx.hub.sessionOf('tom', 'tom-web')!.connection.terminate();
  await eventually(() => c.tap.sockets.length === 2 && c.client.state === 'live', 3000, 'reconnected');
  assert.deepEqual(reasons, ['connect', 'token_expired', 'connect']);
});

test('AUTH-1: the provider keeps giving a refused token → closed (auth_failed) after one retry', async () => {
  const s = await server();
  let calls = 0;
  const c = sdkClient(s, 'una', { token: () => (calls++, 'v1.not.valid') });
  await assert.rejects(c.client.connect(), (e: TidingsError) => e.code === 'closed');
  assert.equal(calls, 2);
  assert.equal(c.states.at(-1)!.reason, 'auth_failed');
  assert.deepEqual(c.errors.map((e) => (e as TidingsError).code), ['token_invalid']);
  await sleep(300);
  assert.equal(c.tap.sockets.length, 1);
});

test('a fixed token that is refused is not retried', async () => {
  const s = await server();
  const c = sdkClient(s, 'val', { token: s.token('val', -3600) });
  await assert.rejects(c.client.connect(), (e: TidingsError) => e.code === 'closed');
  assert.equal(c.tap.sentOf('login').length, 1);
});

test('ON-1: pings at login_ok\'s heartbeatIntervalMs keep the session; ON-2: a silent server is dropped by the client deadline', async () => {
  const s = await server({ heartbeat: { intervalMs: 200, timeoutMs: 600 } });
  const c = sdkClient(s, 'hal', { heartbeatTimeoutMs: 500 });
  await c.client.connect();
  await sleep(1500);
  assert.equal(c.tap.sockets.length, 1, 'the server never timed the client out');
  const pings = c.tap.sentOf('ping').length;
  assert.ok(pings >= 5 && pings <= 12, `about one ping per 150–200 ms of silence, saw ${pings}`);
  assert.ok(c.tap.receivedOf('pong').length >= 5);
  c.tap.last.blackhole = true; // the network goes silent both ways; the TCP connection stays up
  await eventually(() => c.states.some((st) => st.reason === 'heartbeat_timeout'), 2000, 'client deadline');
  await eventually(() => c.client.state === 'live' && c.tap.sockets.length === 2, 3000, 'back on a new connection');
});

test('LIM-2: server restart → `reconnect {afterMs}` respected, then resync; a send during the drain is resent', async () => {
  const s = await server({ shutdown: { reconnectAfterMs: 300, graceMs: 2000 } });
  const c = sdkClient(s, 'rob');
  const hints: number[] = [];
  c.client.on('reconnect', (frame) => hints.push(frame.afterMs));
  await c.client.connect();
  const restarting = s.restart();
  const sent = c.client.sendText({ user: 'sue' }, 'during the restart');
  await restarting;
  const ack = await sent;
  assert.equal(ack.duplicate, false);
  assert.deepEqual(hints, [300]);
  const backoff = c.states.find((st) => st.state === 'backoff')!;
  assert.equal(backoff.reason, 'server_restart');
  assert.equal(backoff.closeCode, 1012);
  assert.ok(backoff.retryInMs! >= 300 && backoff.retryInMs! < 450, `waited ${backoff.retryInMs} ms`);
  await eventually(() => c.client.state === 'live', 3000, 'live on the restarted server');
});
