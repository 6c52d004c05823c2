import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient } from '../helpers/client.ts';
import { startTestServer } from '../helpers/server.ts';

test('LIM-1: oversize frames, malformed JSON, wrong shapes and binary frames get error codes; others keep being served', async () => {
  const t = await startTestServer({ limits: { maxFrameBytes: 1024 } });
  try {
    const bob = await t.connect('bob');
    await bob.sync();
    const bad = await t.connect('mallory');
    const cases: Array<[string | Buffer, string, boolean?]> = [
      ['{"type":"send",', 'bad_json'],
      ['[1,2,3]', 'bad_frame'],
      ['"just a string"', 'bad_frame'],
      ['{"type":"teleport"}', 'unknown_type'],
      ['{"no":"type"}', 'unknown_type'],
      ['{"type":"send","clientMsgId":"x","to":{"user":"bob"},"content":{"type":"text","text":7}}', 'bad_frame'],
      ['{"type":"send","clientMsgId":"x","to":{"user":"bob","group":"g"},"content":{"type":"text","text":"hi"}}', 'bad_frame'],
      ['{"type":"ack","seq":-1}', 'bad_frame'],
      ['{"type":"ack","seq":999999}', 'bad_cursor'],
      [JSON.stringify({ type: 'send', clientMsgId: 'big', to: { user: 'bob' }, content: { type: 'text', text: 'x'.repeat(5000) } }), 'frame_too_large'],
      [Buffer.from([1, 2, 3]), 'binary_not_supported', true],
      ['{"type":"login","token":"x","deviceId":"d","platform":"ios"}', 'already_logged_in'],
    ];
    for (const [payload, code, binary] of cases) {
      bad.sendRaw(payload, binary ?? false);
      const error = await bad.next('error');
      assert.equal(error.code, code, `payload ${String(payload).slice(0, 60)}`);
      assert.equal(typeof error.message, 'string');
    }
    // The abusive connection itself still works, and so does everyone else.
    const ack = await bad.sendText({ user: 'bob' }, 'sorry', 'ok-1');
    assert.equal(ack.type, 'send_ack');
    await bob.waitForEvents(1);
    assert.deepEqual([...bob.invalid, ...bad.invalid], []);
  } finally {
    await t.stop();
  }
});

test('LIM-1: a frame above the hard cap or invalid UTF-8 closes only that connection', async () => {
  const t = await startTestServer({ limits: { maxFrameBytes: 256 } });
  try {
    const bob = await t.connect('bob');
    await bob.sync();
    const huge = await TestClient.connect(t.url);
    huge.sendRaw('x'.repeat(2 * 1024 * 1024));
    assert.equal(await huge.closed, 1009);
    const badUtf8 = await TestClient.connect(t.url);
    badUtf8.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
    // ws answers with close 1007; uWebSockets.js drops the TCP connection in native code before
    // any JavaScript runs, so the client sees 1006 (docs/PROTOCOL.md, close codes).
    assert.equal(await badUtf8.closed, t.config.transport === 'uws' ? 1006 : 1007);
    const alice = await t.connect('alice');
    assert.equal((await alice.sendText({ user: 'bob' }, 'still up', 'c1')).type, 'send_ack');
    await bob.waitForEvents(1);
  } finally {
    await t.stop();
  }
});

test('LIM-1: a connection over the frame rate gets rate_limited, and repeated abuse closes it', async () => {
  const t = await startTestServer({ limits: { framesPerSecond: 5, frameBurst: 5, abuseStrikes: 3 } });
  try {
    const spammer = await t.connect('spammer');
    for (let i = 0; i < 20; i++) spammer.send({ type: 'ping' });
    const limited = await spammer.next('error');
    assert.equal(limited.code, 'rate_limited');
    assert.equal(limited.retryable, true);
    assert.ok((limited.retryAfterMs ?? 0) > 0);
    assert.equal(await spammer.closed, 1008);
  } finally {
    await t.stop();
  }
});
