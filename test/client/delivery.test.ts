import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startTestServer, type TestServer } from '../helpers/server.ts';
import { TestClient } from '../helpers/client.ts';
import type { DeliveredEvent } from '../../protocol/index.ts';
import { closeClients, sdkClient, texts } from './sdk.ts';

let server: TestServer;
before(async () => {
  // Room for the paced clients below: the stream should take about a second, not the default burst.
  server = await startTestServer({ limits: { framesPerSecond: 1000, frameBurst: 1000 } });
});
after(async () => {
  await closeClients();
  await server.stop();
});

/** The whole inbox of a user as the server stores it, read by a fresh device from seq 0. */
async function serverInbox(userId: string): Promise<DeliveredEvent[]> {
  const reader = await TestClient.connect(server.url);
  await reader.login(server.token(userId), `${userId}-auditor-${Date.now()}`, 'desktop');
  await reader.sync(0);
  await reader.close();
  return reader.events;
}

test('SYNC-1/2, LOG-2: connect, send and receive, then the same flow after a reconnect', async () => {
  const alice = sdkClient(server, 'ann');
  const bob = sdkClient(server, 'ben');
  await Promise.all([alice.client.connect(), bob.client.connect()]);
  const ack = await alice.client.sendText({ user: 'ben' }, 'hello ben');
  assert.equal(ack.duplicate, false);
  assert.equal(ack.conversation, 'p:ann:ben');
  await eventually(() => bob.messages.length === 1, 3000, 'ben receives');
  assert.equal(bob.messages[0]!.messageId, ack.messageId);
  server.server.ctx.hub.sessionOf('ben', 'ben-web')!.connection.terminate();
  await eventually(() => bob.states.some((s) => s.state === 'backoff'), 3000, 'ben notices the drop');
  await alice.client.sendText({ user: 'ben' }, 'while you were away');
  await eventually(() => bob.messages.length === 2 && bob.client.state === 'live', 5000, 'ben resyncs');
  assert.deepEqual(texts(bob.messages), ['hello ben', 'while you were away']);
  assert.ok(bob.tap.sockets.length >= 2);
  const sync = bob.tap.sentOf('sync').at(-1)!;
  assert.equal(sync.after, 1, 'the resync starts from the cursor (SYNC-2)');
});

test('SYNC-2, LOG-2, LOG-3: drops mid-stream with 120 sends in flight each way → every message exactly once, in order, on both sides', async () => {
  const count = 120;
  // Paced at 150 frames/s, so the 120 sends of each side are still flowing when the drops come.
  const rateLimit = { perSecond: 150, burst: 10 };
  const alice = sdkClient(server, 'alice', { rateLimit });
  const bob = sdkClient(server, 'bob', { rateLimit });
  await Promise.all([alice.client.connect(), bob.client.connect()]);
  const dropped: string[] = [];
  const maybeDrop = () => {
    const fromAlice = texts(bob.messages, 'alice').length;
    // Server side cuts alice's socket, then (below) bob's client cuts its own, then both at once.
    if (dropped.length === 0 && fromAlice >= 25) {
      dropped.push('server→alice');
      server.server.ctx.hub.sessionOf('alice', 'alice-web')?.connection.terminate();
    } else if (dropped.length === 2 && fromAlice >= 85) {
      dropped.push('both');
      alice.tap.last.terminate();
      server.server.ctx.hub.sessionOf('bob', 'bob-web')?.connection.terminate();
    }
  };
  // Bob's network dies the moment b-55 is on the wire: its send_ack can never be read.
  bob.tap.onSent = (frame, socket) => {
    if (dropped.length === 1 && frame.type === 'send' && frame.clientMsgId === 'b-55') {
      dropped.push('bob→server');
      socket.terminate();
    }
  };
  alice.client.on('message', maybeDrop);
  bob.client.on('message', maybeDrop);
  const sends = [];
  for (let i = 0; i < count; i++) {
    sends.push(alice.client.sendText({ user: 'bob' }, `a-${i}`, { clientMsgId: `a-${i}` }));
    sends.push(bob.client.sendText({ user: 'alice' }, `b-${i}`, { clientMsgId: `b-${i}` }));
  }
  const acks = await Promise.all(sends);
  await eventually(() => texts(bob.messages, 'alice').length >= count && texts(alice.messages, 'bob').length >= count
    && texts(alice.messages, 'alice').length >= count && texts(bob.messages, 'bob').length >= count, 20_000, 'all messages on both sides');
  assert.deepEqual(dropped, ['server→alice', 'bob→server', 'both'], 'all three drops happened mid-stream');

  const expected = (prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  // Each side sees the other's messages and its own (echoed to the sender's inbox) once, in send order.
  assert.deepEqual(texts(bob.messages, 'alice'), expected('a'));
  assert.deepEqual(texts(alice.messages, 'bob'), expected('b'));
  assert.deepEqual(texts(alice.messages, 'alice'), expected('a'));
  assert.deepEqual(texts(bob.messages, 'bob'), expected('b'));
  for (const side of [alice, bob]) {
    const seqs = side.messages.map((m) => m.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'seqs strictly increasing');
    assert.equal(new Set(seqs).size, seqs.length);
    assert.equal(side.client.pendingSends.length, 0);
  }
  // Every send resolved once, with one messageId per clientMsgId, and the server stored each once.
  assert.equal(new Set(acks.map((a) => a.messageId)).size, 2 * count);
  for (const user of ['alice', 'bob']) {
    const stored = (await serverInbox(user)).filter((e) => e.kind === 'message').map((e) => (e.kind === 'message' ? e.clientMsgId : ''));
    assert.equal(stored.length, 2 * count, `${user}'s inbox holds each message once`);
    assert.deepEqual(stored.filter((id) => id.startsWith('a-')), expected('a'));
    assert.deepEqual(stored.filter((id) => id.startsWith('b-')), expected('b'));
  }
  // The drops really interrupted sends: b-55 was written, cut off, and written again.
  assert.ok(bob.tap.sentOf('send').filter((f) => f.clientMsgId === 'b-55').length >= 2, 'b-55 was resent after the drop');
  assert.ok(alice.tap.sockets.length >= 3 && bob.tap.sockets.length >= 3);
});

test('LOG-2: the send_ack is lost (drop right after the commit) → the resend gets duplicate: true, the receiver has it once', async () => {
  const alice = sdkClient(server, 'amy');
  const bob = sdkClient(server, 'bill');
  await Promise.all([alice.client.connect(), bob.client.connect()]);
  let cut = 0;
  server.server.ctx.store.log.onCommitted('test-cut', (results) => {
    // Runs after the commit and before the server writes the send_ack: the client never reads it.
    if (cut === 0 && results.some((r) => r.event.clientMsgId === 'lost-ack-1' && !r.duplicate)) {
      cut += 1;
      alice.tap.last.terminate();
    }
  });
  const ack = await alice.client.sendText({ user: 'bill' }, 'did you get this?', { clientMsgId: 'lost-ack-1' });
  assert.equal(cut, 1, 'the connection was cut after the commit');
  assert.equal(ack.duplicate, true, 'answered by the resend, as a duplicate of the stored original');
  assert.equal(alice.tap.sentOf('send').filter((f) => f.clientMsgId === 'lost-ack-1').length, 2);
  const acksSeen = alice.tap.receivedOf('send_ack').filter((f) => f.clientMsgId === 'lost-ack-1');
  assert.deepEqual(acksSeen.map((f) => f.duplicate), [true], 'the first ack never reached the client');
  await eventually(() => bob.messages.length >= 1 && alice.messages.length >= 1, 3000, 'delivered');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(texts(bob.messages), ['did you get this?']);
  assert.deepEqual(texts(alice.messages), ['did you get this?'], 'the echo to the sender, once');
  assert.equal(bob.messages[0]!.messageId, ack.messageId);
  const stored = (await serverInbox('bill')).filter((e) => e.kind === 'message');
  assert.equal(stored.length, 1, 'stored once');
});
