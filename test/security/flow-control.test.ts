/**
 * Issue 7, flow control: per-connection rate limit (complements test/protocol/bad-input.test.ts),
 * per-IP and per-user connection caps, and the slow-reader bound on server-side buffers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { TestClient } from '../helpers/client.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

test('rate limit: frames before login count too, a rate-limited frame has no effect, other connections are unaffected', async () => {
  const t = await startTestServer({ limits: { framesPerSecond: 5, frameBurst: 5, abuseStrikes: 5 } });
  try {
    const bob = await t.connect('bob');
    await bob.sync();
    // Anonymous flood: pings are allowed before login but still spend the bucket.
    const anon = await TestClient.connect(t.url);
    for (let i = 0; i < 30; i++) anon.send({ type: 'ping', ref: `p${i}` });
    assert.equal(await anon.closed, 1008);
    const anonErrors = anon.frames.filter((f) => f.type === 'error');
    assert.ok(anonErrors.length >= 1 && anonErrors.every((f) => f.type === 'error' && f.code === 'rate_limited' && f.retryable && (f.retryAfterMs ?? 0) > 0));
    assert.ok(anon.frames.filter((f) => f.type === 'pong').length <= 5, 'at most the burst was served');

    // A logged-in sender over the limit: exactly the acked sends are stored, the refused ones are not.
    const sender = await t.connect('sender');
    for (let i = 0; i < 8; i++) sender.send({ type: 'send', ref: `s${i}`, clientMsgId: `m${i}`, to: { user: 'bob' }, content: { type: 'text', text: `n${i}` } });
    const answers = () => sender.frames.filter((f) => f.type === 'send_ack' || (f.type === 'error' && f.code === 'rate_limited'));
    await eventually(() => answers().length >= 8, 5000, 'an answer to every send');
    assert.equal(sender.closeCode, undefined, 'within abuseStrikes the connection stays open');
    const acked = new Set(answers().flatMap((f) => (f.type === 'send_ack' ? [f.clientMsgId] : [])));
    const limited = answers().filter((f) => f.type === 'error');
    assert.ok(limited.length > 0 && acked.size > 0, `acked ${acked.size}, limited ${limited.length}`);
    assert.ok(limited.every((f) => f.type === 'error' && f.ref === undefined), 'rate_limited carries no ref (the frame was not read)');
    await t.server.ctx.store.log.flush();
    await eventually(() => bob.events.length >= acked.size, 3000, 'bob got the acked ones');
    const stored = bob.events.filter((e) => e.kind === 'message' && e.from === 'sender').map((e) => (e.kind === 'message' ? e.clientMsgId : ''));
    assert.deepEqual(new Set(stored), acked, 'only acked sends were stored and delivered');
    // Bob, on another connection from the same address, is served normally.
    const alice = await t.connect('alice');
    assert.equal((await alice.sendText({ user: 'bob' }, 'hi', 'a1')).type, 'send_ack');
    await eventually(() => bob.events.some((e) => e.kind === 'message' && e.clientMsgId === 'a1'));
    assert.deepEqual([...bob.invalid, ...anon.invalid, ...sender.invalid], []);
  } finally {
    await t.stop();
  }
});

test('per-IP cap: the (cap+1)th connection from one address gets too_many_connections and 1008; others stay; a slot frees on close', async () => {
  const cap = 3;
  const t = await startTestServer({ limits: { maxConnectionsPerIp: cap } });
  const extra: WebSocket[] = [];
  try {
    const first = await t.connect('alice', 'a1');
    const others = [await TestClient.connect(t.url), await TestClient.connect(t.url)];
    const refused = await TestClient.connect(t.url);
    const error = await refused.next('error');
    assert.equal(error.code, 'too_many_connections');
    assert.equal(error.retryable, true);
    assert.equal(error.ref, undefined);
    assert.equal(await refused.closed, 1008);
    // The refused connection never reaches login.
    assert.equal(t.server.ctx.hub.size(), 1);
    // Connections already open keep working.
    await first.sync();
    assert.equal((await first.sendText({ user: 'alice' }, 'note', 'n1')).type, 'send_ack');
    for (const c of others) {
      c.send({ type: 'ping', ref: 'still' });
      assert.equal((await c.next('pong')).ref, 'still');
    }
    // The cap is per remote address: 127.0.0.2 (also loopback) has its own count.
    const fromOther = new WebSocket(t.url, { localAddress: '127.0.0.2' });
    extra.push(fromOther);
    const firstFrame = await new Promise<string>((resolve, reject) => {
      fromOther.once('open', () => {
        fromOther.send(JSON.stringify({ type: 'ping', ref: 'other-ip' }));
      });
      fromOther.once('message', (data) => resolve(data.toString()));
      fromOther.once('error', reject);
    });
    assert.equal(JSON.parse(firstFrame).type, 'pong', firstFrame);
    // Closing one frees a slot for the same address.
    await others[0]!.close();
    await eventually(async () => {
      const c = await TestClient.connect(t.url);
      c.send({ type: 'ping', ref: 'again' });
      const reply = await c.waitFor(() => true, 2000).catch(() => undefined);
      if (reply?.type === 'pong') return true;
      await c.closed;
      return false;
    }, 3000, 'a freed slot');
  } finally {
    for (const ws of extra) ws.terminate();
    await t.stop();
  }
});

test('per-user cap: login beyond limits.maxConnectionsPerUser gets too_many_connections, the connection stays anonymous and usable', async () => {
  const t = await startTestServer({ limits: { maxConnectionsPerUser: 2 } });
  try {
    const d1 = await t.connect('alice', 'd1');
    const d2 = await t.connect('alice', 'd2');
    const third = await TestClient.connect(t.url);
    const refused = await third.request({ type: 'login', token: t.token('alice'), deviceId: 'd3', platform: 'web' });
    assert.equal(refused.type === 'error' && refused.code, 'too_many_connections');
    assert.equal(refused.type === 'error' && refused.retryable, true);
    assert.equal(t.server.ctx.hub.sessionsOf('alice').length, 2);
    // Still anonymous: gated like any connection before login, but open.
    const gated = await third.request({ type: 'sync' });
    assert.equal(gated.type === 'error' && gated.code, 'not_logged_in');
    // Another user is not affected by alice's cap, even on this same connection.
    const asBob = await third.login(t.token('bob'), 'b1', 'web');
    assert.equal(asBob.userId, 'bob');
    // The same device logging in again replaces its old session instead of counting twice.
    const d1again = await t.connect('alice', 'd1');
    assert.equal(await d1.closed, 4006);
    assert.equal(t.server.ctx.hub.sessionsOf('alice').length, 2);
    // A freed slot can be used.
    await d2.close();
    await eventually(() => t.server.ctx.hub.sessionsOf('alice').length === 1);
    const d3 = await TestClient.connect(t.url);
    assert.equal((await d3.login(t.token('alice'), 'd3', 'web')).userId, 'alice');
    await d1again.sync();
    assert.deepEqual([...third.invalid, ...d1again.invalid, ...d3.invalid], []);
  } finally {
    await t.stop();
  }
});

test('slow reader: a client that stops reading is closed with 4004 once its buffer passes maxBufferedBytes; memory stays bounded; others are served', { timeout: 60_000 }, async () => {
  const maxBufferedBytes = 64 * 1024;
  const t = await startTestServer({ limits: { maxBufferedBytes, framesPerSecond: 100_000, frameBurst: 100_000 } });
  try {
    const offline: string[] = [];
    t.server.ctx.events.on('device_offline', 'test', (e) => offline.push(`${e.userId}:${e.reason}`));
    const victim = await t.connect('victim', 'victim-phone');
    await victim.sync();
    const carol = await t.connect('carol');
    const dave = await t.connect('dave');
    await dave.sync();
    const session = t.server.ctx.hub.sessionOf('victim', 'victim-phone')!;
    assert.ok(session);
    // Stop reading: the kernel buffers fill first (a few MB on loopback), then the server's own.
    (victim.socket as unknown as { _socket: Socket })._socket.pause();

    const flooder = await t.connect('flooder');
    const text = 'x'.repeat(4000);
    const frameBytes = text.length + 400;
    let sent = 0;
    let maxBuffered = 0;
    let bystander = 0;
    // Bounded: at most 5000 × 4 KB (20 MB); the drop comes after about 4 MB here.
    while (!offline.includes('victim:slow_reader') && sent < 5000) {
      // Batches of 8 keep any one `events` frame far below the bound for readers that do read.
      await Promise.all(Array.from({ length: 8 }, () => flooder.sendText({ user: 'victim' }, text, `f-${sent++}`)));
      if (!session.closed) maxBuffered = Math.max(maxBuffered, session.connection.bufferedBytes());
      if (sent % 200 === 0) await carol.sendText({ user: 'dave' }, `during ${bystander}`, `c-${bystander++}`);
    }
    assert.ok(offline.includes('victim:slow_reader'), `victim not dropped after ${sent} messages`);
    assert.ok(session.closed);
    assert.equal(t.server.ctx.hub.sessionOf('victim', 'victim-phone'), undefined, 'presence no longer lists it');
    assert.ok(maxBuffered <= maxBufferedBytes + frameBytes, `server buffered ${maxBuffered} bytes for the victim`);

    // More traffic for the victim after the drop: nothing more is buffered for the dead session.
    const bufferedAtDrop = session.connection.bufferedBytes();
    const after = 10 * 8;
    for (let i = 0; i < after / 8; i++) {
      await Promise.all(Array.from({ length: 8 }, () => flooder.sendText({ user: 'victim' }, text, `after-${i}-${Math.random()}`)));
    }
    assert.ok(session.connection.bufferedBytes() <= bufferedAtDrop, 'buffer did not grow after the drop');
    assert.ok(bufferedAtDrop <= maxBufferedBytes + frameBytes);

    // The victim, reading again, sees the 4004 close; nothing was lost: all of it waits in its inbox.
    // Resumed promptly: on uWS, a victim that resumed seconds later (suite under load) saw 1006, the
    // ended socket having been dropped before its close frame could be read.
    (victim.socket as unknown as { _socket: Socket })._socket.resume();
    assert.equal(await victim.closed, 4004);
    assert.equal(await t.server.ctx.store.log.headSeq('victim'), sent + after);

    // Others kept being served: the flooder got every ack, carol reached dave during the flood.
    for (let i = 0; i < 3; i++) await carol.sendText({ user: 'dave' }, `after ${i}`, `c-after-${i}`);
    await eventually(() => dave.events.filter((e) => e.kind === 'message' && e.from === 'carol').length === bystander + 3, 5000, 'dave got carol\'s messages');
    assert.equal(offline.filter((o) => o !== 'victim:slow_reader').length, 0, 'nobody else was dropped');
    assert.deepEqual([...dave.invalid, ...flooder.invalid, ...victim.invalid], []);
  } finally {
    await t.stop();
  }
});

for (const [bound, todo] of [
  [256 * 1024, undefined],
  [64 * 1024, undefined],
] as const) {
  test(`slow reader during sync (maxBufferedBytes ${bound / 1024} KiB): pages wait for the socket to drain, so a paused reader's backlog is never all in memory`, { timeout: 60_000, todo }, async () => {
    const t = await startTestServer({ limits: { maxBufferedBytes: bound, framesPerSecond: 100_000, frameBurst: 100_000 } });
    try {
      const offline: string[] = [];
      t.server.ctx.events.on('device_offline', 'test', (e) => offline.push(`${e.userId}:${e.reason}`));
      // A backlog bigger than what the kernel buffers on loopback (about 4 MB): 500 × 12 KB.
      const flooder = await t.connect('flooder');
      const text = 'x'.repeat(12_000);
      for (let i = 0; i < 500; i += 5) {
        await Promise.all(Array.from({ length: 5 }, (_, j) => flooder.sendText({ user: 'victim' }, text, `b-${i + j}`)));
      }
      const victim = await t.connect('victim', 'victim-phone');
      const session = t.server.ctx.hub.sessionOf('victim', 'victim-phone')!;
      (victim.socket as unknown as { _socket: Socket })._socket.pause();
      victim.send({ type: 'sync', ref: 'backlog', after: 0, limit: 4 });
      // Let the server write until it has to wait: the buffer plateaus instead of growing to the backlog.
      let maxBuffered = 0;
      let last = -1;
      for (let stable = 0; stable < 10 && !session.closed;) {
        await new Promise((r) => setTimeout(r, 50));
        const now = session.connection.bufferedBytes();
        maxBuffered = Math.max(maxBuffered, now);
        stable = now === last ? stable + 1 : 0;
        last = now;
      }
      assert.deepEqual(offline, [], 'a paused reader in a sync is not dropped: the sync waits for it');
      assert.ok(maxBuffered <= bound, `buffered ${maxBuffered} bytes`);
      (victim.socket as unknown as { _socket: Socket })._socket.resume();
      await victim.waitFor((f) => f.type === 'sync_done' && f.ref === 'backlog', 30_000, 'sync_done');
      assert.equal(victim.events.length, 500);
      assert.deepEqual(victim.invalid, []);
    } finally {
      await t.stop();
    }
  });
}

test('sync of large messages: a client that reads normally completes a default sync even when one page exceeds maxBufferedBytes', {
  timeout: 60_000,
}, async () => {
  const t = await startTestServer({ limits: { maxBufferedBytes: 256 * 1024, maxFrameBytes: 128 * 1024, maxMessageBytes: 64 * 1024, framesPerSecond: 100_000, frameBurst: 100_000 } });
  try {
    const sender = await t.connect('sender');
    const text = 'x'.repeat(40_000);
    for (let i = 0; i < 200; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => sender.sendText({ user: 'victim' }, text, `big-${i + j}`)));
    }
    const victim = await t.connect('victim', 'victim-phone');
    // One default page: 200 × 40 KB = 8 MB, written at once although the bound is 256 KiB.
    const done = await victim.sync(undefined, 30_000);
    assert.equal(done.headSeq, 200);
  } finally {
    await t.stop();
  }
});
