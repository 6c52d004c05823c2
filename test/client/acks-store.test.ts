import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, sleep, startTestServer, type TestServer } from '../helpers/server.ts';
import { TestClient } from '../helpers/client.ts';
import { LocalStorageStore, MemoryStore, type OutboxStatus, type StorageLike, type TidingsError } from '../../client/src/index.ts';
import { closeClients, sdkClient, texts } from './sdk.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({ limits: { framesPerSecond: 1000, frameBurst: 1000 } });
});
after(async () => {
  await closeClients();
  await server.stop();
});

/** What login_ok says this device's stored ack cursor is (a second login of the same device). */
async function storedAckCursor(userId: string, deviceId: string): Promise<number> {
  const probe = await TestClient.connect(server.url);
  const ok = await probe.login(server.token(userId), deviceId, 'web');
  await probe.close();
  return ok.ackedSeq;
}

test('SYNC-1: batched acks reach the server: the stored cursor advances, with far fewer acks than events', async () => {
  const sender = sdkClient(server, 'sam', { rateLimit: false });
  const reader = sdkClient(server, 'rita', { acks: { delayMs: 100, maxEvents: 25 } });
  await Promise.all([sender.client.connect(), reader.client.connect()]);
  await Promise.all(Array.from({ length: 120 }, (_, i) => sender.client.sendText({ user: 'rita' }, `m${i}`)));
  await eventually(() => reader.messages.length === 120, 5000, 'all received');
  const last = reader.messages.at(-1)!.seq;
  assert.equal(reader.client.cursor, last);
  await eventually(() => reader.tap.sentOf('ack').at(-1)?.seq === last, 2000, 'the last ack is written');
  const acks = reader.tap.sentOf('ack');
  assert.ok(acks.length >= 4 && acks.length <= 12, `120 events, ${acks.length} acks`);
  assert.deepEqual(acks.map((a) => a.seq), [...acks.map((a) => a.seq)].sort((a, b) => a - b), 'acks only move forward');
  await reader.client.disconnect();
  assert.equal(await storedAckCursor('rita', 'rita-web'), last, 'login_ok.ackedSeq of the next login');
});

test('SYNC-1: a trickle is acked after the short delay, not per event', async () => {
  const sender = sdkClient(server, 'ted');
  const reader = sdkClient(server, 'tia', { acks: { delayMs: 150, maxEvents: 50 } });
  await Promise.all([sender.client.connect(), reader.client.connect()]);
  for (const text of ['one', 'two', 'three']) await sender.client.sendText({ user: 'tia' }, text);
  await eventually(() => reader.messages.length === 3, 3000, 'received');
  await sleep(400);
  assert.equal(reader.tap.sentOf('ack').length, 1);
  assert.equal(reader.tap.sentOf('ack')[0]!.seq, reader.client.cursor);
});

test('SYNC-2: going offline (disconnect) and back resumes from the cursor, missing nothing, repeating nothing', async () => {
  const sender = sdkClient(server, 'ola');
  const reader = sdkClient(server, 'oz');
  await Promise.all([sender.client.connect(), reader.client.connect()]);
  await sender.client.sendText({ user: 'oz' }, 'before');
  await eventually(() => reader.messages.length === 1, 3000, 'first');
  await reader.client.disconnect();
  assert.equal(reader.client.state, 'idle');
  for (const text of ['while', 'offline']) await sender.client.sendText({ user: 'oz' }, text);
  await reader.client.connect();
  await eventually(() => reader.messages.length === 3, 3000, 'caught up');
  await sleep(100);
  assert.deepEqual(texts(reader.messages), ['before', 'while', 'offline']);
});

test('the outbox survives the app: sends made offline are kept in the store and sent by the next client', async () => {
  const items = new Map<string, string>();
  const storage: StorageLike = {
    getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v), removeItem: (k) => void items.delete(k),
  };
  const store = () => new LocalStorageStore({ prefix: 'tidings:pia:pia-web:', storage });
  const receiver = sdkClient(server, 'quin');
  await receiver.client.connect();

  const firstRun = sdkClient(server, 'pia', { store: store() });
  const pending = ['x', 'y', 'z'].map((t) => firstRun.client.sendText({ user: 'quin' }, t).catch((e: TidingsError) => e.code));
  await eventually(() => JSON.parse(items.get('tidings:pia:pia-web:outbox') ?? '[]').length === 3, 2000, 'persisted');
  await firstRun.client.close();
  assert.deepEqual(await Promise.all(pending), ['closed', 'closed', 'closed'], 'the closed client gives up its promises…');
  assert.equal(firstRun.tap.sockets.length, 0, '…having never connected');

  const secondRun = sdkClient(server, 'pia', { store: store() });
  const statuses: OutboxStatus[] = [];
  secondRun.client.on('outbox', (s) => statuses.push(s));
  await secondRun.client.connect();
  await eventually(() => statuses.filter((s) => s.status === 'acked').length === 3, 3000, 'the stored sends went out');
  await eventually(() => receiver.messages.length === 3, 3000, 'received');
  assert.deepEqual(texts(receiver.messages), ['x', 'y', 'z'], 'in the order they were made');
  assert.equal(items.has('tidings:pia:pia-web:outbox'), false, 'acked sends leave the store');
  await secondRun.client.disconnect();
  assert.equal(Number(items.get('tidings:pia:pia-web:cursor')), secondRun.client.cursor, 'the cursor is kept');
});

test('a MemoryStore cursor carries a client over to a new instance (resync from it)', async () => {
  const store = new MemoryStore();
  const sender = sdkClient(server, 'max');
  const first = sdkClient(server, 'mia', { store });
  await Promise.all([sender.client.connect(), first.client.connect()]);
  await sender.client.sendText({ user: 'mia' }, 'old');
  await eventually(() => first.messages.length === 1, 3000, 'old');
  await first.client.close();
  assert.equal(store.cursor, first.client.cursor);
  await sender.client.sendText({ user: 'mia' }, 'new');
  const second = sdkClient(server, 'mia', { store });
  await second.client.connect();
  await eventually(() => second.messages.length === 1, 3000, 'new');
  assert.deepEqual(texts(second.messages), ['new']);
  assert.equal(second.tap.sentOf('sync')[0]!.after, first.client.cursor, 'the new instance syncs from the stored cursor');
});
