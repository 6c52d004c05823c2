/**
 * Issue 7, hostile input: property-based tests (fast-check, fixed seeds, bounded runs) of the
 * validators and of a real server over real sockets. See docs/SECURITY.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CLIENT_FRAME_TYPES, ERROR_CODES, ProtocolError } from '../../protocol/index.ts';
import { parseClientFrame } from '../../protocol/validate.ts';
import { TestClient } from '../helpers/client.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import {
  blockOk, deepMarker, fieldArb, hostileValueArb, idArb, muteOk, mutate, mutationArb, objectText, pushOptionsOk,
  settingsUpdateOk, toText, validFrameArb, validPushArb, validSendArb,
} from './frames.ts';

const SEED = 0x7d1d6;
const PARSE_CODES = new Set(['bad_json', 'bad_frame', 'unknown_type']);
/** Close codes a client may see from tidings besides a clean 1000 it asked for (docs/PROTOCOL.md "Close codes"). */
const DOCUMENTED_CLOSES = new Set([1007, 1008, 1009, 4001, 4002, 4003, 4004, 4005, 4006]);
const MAX_FRAME = 65536;

/** parseClientFrame's contract: a validated frame equal to the JSON, or a ProtocolError with a parse code. */
function checkParse(text: string): 'accepted' | 'rejected' {
  let frame: unknown;
  try {
    frame = parseClientFrame(text);
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `threw ${String(error)} for ${text.slice(0, 120)}`);
    assert.ok(PARSE_CODES.has(error.code), `code ${error.code}`);
    if (error.ref !== undefined) {
      assert.ok(error.ref.length <= 64);
      assert.equal(error.ref, (JSON.parse(text) as { ref: unknown }).ref, 'an echoed ref is the frame\'s own ref');
    }
    return 'rejected';
  }
  assert.ok(CLIENT_FRAME_TYPES.includes((frame as { type: never }).type));
  assert.deepEqual(frame, JSON.parse(text));
  return 'accepted';
}

test('parseClientFrame: arbitrary strings, JSON, objects and mutated frames never throw anything but ProtocolError', () => {
  const tokens = ['v1.x.y'];
  const textArb = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.json({ maxDepth: 4 }),
    fc.anything({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'undefined'),
    validFrameArb(tokens).map(toText),
    fc.tuple(validFrameArb(tokens), mutationArb(4096)).map(([frame, m]) => mutate(frame, m)),
    fc.tuple(validFrameArb(tokens), fc.nat()).map(([frame, cut]) => { const t = toText(frame); return t.slice(0, cut % t.length); }),
  );
  const seen = { accepted: 0, rejected: 0 };
  fc.assert(fc.property(textArb, (text) => {
    // A `type` nested thousands deep has its own test below; keep it out of this property.
    if (/^\{"type":\[{100}/.test(text)) return;
    seen[checkParse(text)] += 1;
  }), { seed: SEED, numRuns: 2000, includeErrorInReport: true });
  assert.ok(seen.accepted > 200 && seen.rejected > 200, `both verdicts exercised: ${JSON.stringify(seen)}`);
});

test('parseClientFrame: 10,000 nested arrays in any field but `type` are a bad_frame, not a stack overflow', () => {
  for (const depth of [10_000, 30_000, 100_000]) {
    const deep = deepMarker(depth);
    for (const frame of [
      { type: 'send', clientMsgId: 'c', to: { user: 'bob' }, content: deep },
      { type: 'send', clientMsgId: 'c', to: { user: deep }, content: { type: 'text', text: 'x' } },
      { type: 'send', clientMsgId: 'c', to: { user: 'bob' }, content: { type: 'text', text: 'x' }, push: { custom: { k: deep } } },
      { type: 'settings_update', dnd: deep }, { type: 'ping', ref: deep }, { type: 'ping', t: deep }, { type: 'login', token: deep, deviceId: 'd', platform: 'ios' },
    ]) {
      const text = toText(frame);
      assert.equal(checkParse(text), 'rejected');
    }
    assert.throws(() => parseClientFrame('['.repeat(depth) + ']'.repeat(depth)), (e: unknown) => e instanceof ProtocolError && e.code === 'bad_frame');
  }
});

test('parseClientFrame: a `type` nested 10,000 arrays deep is a ProtocolError', () => {
  const text = `{"type":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
  assert.throws(() => parseClientFrame(text), (e: unknown) => e instanceof ProtocolError && e.code === 'unknown_type');
});

test('push options: send and call_invite accept exactly what the PushOptions schema says', () => {
  const customArb = fc.oneof(
    fc.array(fc.tuple(
      fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/), fc.constantFrom('', 'a'.repeat(65), 'a b', 'é', 'k:v', '__proto__', 'constructor', 'sender')),
      fieldArb(fc.string({ maxLength: 512 })),
    ), { maxLength: 18 }).map((entries) => ({ entries })),
    fieldArb(fc.constant({})),
  );
  const pushArb = fc.oneof(
    { weight: 1, arbitrary: validPushArb.map((p) => ({ text: JSON.stringify(p) })) },
    { weight: 1, arbitrary: fieldArb(fc.constant({})).map((p) => ({ text: JSON.stringify(p) })) },
    {
      weight: 4,
      arbitrary: fc.record({
        title: fieldArb(fc.string({ maxLength: 256 })), content: fieldArb(fc.string({ maxLength: 2048 })),
        payload: fieldArb(fc.string({ maxLength: 2048 })), resourcesId: fieldArb(fc.string({ maxLength: 64 })),
        sound: fieldArb(fc.string({ maxLength: 64 })), mutableContent: fieldArb(fc.boolean()), force: fieldArb(fc.boolean()),
        noPush: fieldArb(fc.boolean()), custom: customArb, extra: fieldArb(fc.string()),
      }, { requiredKeys: [] }).map((fields) => {
        const entries: Array<[string, string]> = [];
        for (const [key, value] of Object.entries(fields)) {
          const isEntries = typeof value === 'object' && value !== null && 'entries' in value && Array.isArray((value as { entries: unknown }).entries);
          entries.push([key, isEntries ? objectText((value as { entries: Array<[string, unknown]> }).entries) : JSON.stringify(value)]);
        }
        return { text: `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}` };
      }),
    },
  );
  const seen = { accepted: 0, rejected: 0 };
  fc.assert(fc.property(pushArb, fc.boolean(), ({ text }, asCall) => {
    const frameText = asCall
      ? `{"type":"call_invite","invitees":["bob"],"push":${text}}`
      : `{"type":"send","clientMsgId":"c1","to":{"user":"bob"},"content":{"type":"text","text":"hi"},"push":${text}}`;
    const expected = pushOptionsOk(JSON.parse(text));
    let accepted = true;
    try {
      parseClientFrame(frameText);
    } catch (error) {
      assert.ok(error instanceof ProtocolError && error.code === 'bad_frame', String(error));
      assert.match((error.details as { path: string }).path, /^\/push/, 'the error points into push');
      accepted = false;
    }
    assert.equal(accepted, expected, `push ${text.slice(0, 200)}`);
    seen[accepted ? 'accepted' : 'rejected'] += 1;
  }), { seed: SEED, numRuns: 2000, includeErrorInReport: true });
  assert.ok(seen.accepted > 300 && seen.rejected > 300, JSON.stringify(seen));
});

test('settings frames: settings_update, mute and block accept exactly what the schema says', () => {
  const recipient = fc.oneof(idArb.map((user) => ({ user })), idArb.map((group) => ({ group })));
  // Mostly valid fields, so that whole frames are often valid too; a rare foreign key (`userId`, …).
  const f = (arb: fc.Arbitrary<unknown>) => fieldArb(arb, 14);
  const rare = <T>(value: T) => fc.option(fc.constant(value), { freq: 12, nil: undefined });
  const dnd = fc.oneof(
    fc.record({ start: f(fc.integer({ min: 0, max: 1439 })), end: f(fc.integer({ min: 0, max: 1439 })), timeZone: f(fc.constantFrom('UTC', 'Europe/Berlin', 'x'.repeat(64))), extra: rare(1) }, { requiredKeys: [] }),
    fc.record({ start: fc.integer({ min: 0, max: 1439 }), end: fc.integer({ min: 0, max: 1439 }), timeZone: fc.constantFrom('UTC', 'Asia/Kolkata') }),
    fc.constant(null),
  );
  const ref = f(fc.string({ maxLength: 64 }));
  const frameArb = fc.oneof(
    fc.record({
      type: fc.constant('settings_update'), ref, displayName: f(fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), fc.constant(null))),
      displayStyle: f(fc.constantFrom('banner', 'summary', 'BANNER', 'full')), dnd: f(dnd), pushEnabled: f(fc.boolean()),
      userId: rare('bob'),
    }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('mute'), ref, to: f(recipient), muted: f(fc.boolean()), user: rare('bob') }, { requiredKeys: ['type', 'to', 'muted'] }),
    fc.record({ type: fc.constant('block'), ref, user: f(idArb), blocked: f(fc.boolean()), group: rare('team') }, { requiredKeys: ['type', 'user', 'blocked'] }),
  );
  const oracle: Record<string, (f: Record<string, unknown>) => boolean> = { settings_update: settingsUpdateOk, mute: muteOk, block: blockOk };
  const seen: Record<string, number> = {};
  fc.assert(fc.property(frameArb, (frame) => {
    const text = JSON.stringify(frame);
    const value = JSON.parse(text) as Record<string, unknown>;
    const expected = oracle[value.type as string]!(value);
    let accepted = true;
    try {
      parseClientFrame(text);
    } catch (error) {
      assert.ok(error instanceof ProtocolError && error.code === 'bad_frame', String(error));
      accepted = false;
    }
    assert.equal(accepted, expected, text.slice(0, 300));
    const key = `${String(value.type)}:${accepted}`;
    seen[key] = (seen[key] ?? 0) + 1;
  }), { seed: SEED, numRuns: 2000, includeErrorInReport: true });
  for (const type of Object.keys(oracle)) {
    assert.ok((seen[`${type}:true`] ?? 0) > 30 && (seen[`${type}:false`] ?? 0) > 30, `both verdicts for ${type}: ${JSON.stringify(seen)}`);
  }
});

type Payload =
  | { kind: 'text'; text: string }
  | { kind: 'replay'; text: string }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'badUtf8'; bytes: Uint8Array };

function payloadArb(tokens: readonly string[]): fc.Arbitrary<Payload> {
  const valid = validFrameArb(tokens);
  const invalidUtf8 = fc.tuple(
    fc.constantFrom('{"type":"ping","ref":"', '{"type":"send","clientMsgId":"', '', 'hello '),
    fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]),
    fc.uint8Array({ maxLength: 16 }).map((b) => b.map((x) => x & 0x7f)),
  ).map(([prefix, bad, tail]) => new Uint8Array([...Buffer.from(prefix), ...bad, ...tail]));
  return fc.oneof(
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ kind: 'text' as const, text })) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 3 }).map((text) => ({ kind: 'text' as const, text })) },
    { weight: 4, arbitrary: valid.map((frame) => ({ kind: 'text' as const, text: toText(frame) })) },
    { weight: 1, arbitrary: validSendArb().map((frame) => ({ kind: 'text' as const, text: toText(frame) })) },
    { weight: 1, arbitrary: validSendArb().map((frame) => ({ kind: 'replay' as const, text: toText({ ...frame, ref: 'replayed' }) })) },
    { weight: 8, arbitrary: fc.tuple(valid, mutationArb(MAX_FRAME)).map(([frame, m]) => ({ kind: 'text' as const, text: mutate(frame, m) })) },
    { weight: 1, arbitrary: fc.tuple(valid, fc.nat()).map(([frame, cut]) => { const t = toText(frame); return { kind: 'text' as const, text: t.slice(0, cut % t.length) }; }) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 30_000 }).map((d) => ({ kind: 'text' as const, text: '['.repeat(d) + ']'.repeat(d) })) },
    { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 30_000 }).map((d) => ({ kind: 'text' as const, text: `{"type":${'['.repeat(d)}${']'.repeat(d)}}` })) },
    { weight: 2, arbitrary: valid.map((frame) => ({ kind: 'replay' as const, text: toText({ ...frame, ref: 'replayed' }) })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: 'binary' as const, bytes })) },
    { weight: 1, arbitrary: invalidUtf8.map((bytes) => ({ kind: 'badUtf8' as const, bytes })) },
  );
}

test('over real sockets: random and mutated frames, before and after login, never crash the server nor draw an off-spec answer', { timeout: 60_000 }, async () => {
  const t = await startTestServer({
    limits: { maxFrameBytes: MAX_FRAME, framesPerSecond: 100_000, frameBurst: 100_000, maxConnectionsPerUser: 1000 },
  });
  const fuzzClients: Array<{ client: TestClient; loggedIn: boolean; closeExpected: Set<number> }> = [];
  try {
    const bob = await t.connect('bob', 'bob-control');
    await bob.sync();
    const tokens = [t.token('mallory'), t.token('eve')];
    let run = 0;
    // docs/PROTOCOL.md: invalid UTF-8 closes with 1007 on `ws`; uWebSockets.js drops the connection (1006).
    const utf8Close = t.config.transport === 'uws' ? 1006 : 1007;
    const seen = new Map<string, number>();
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(payloadArb(tokens), { minLength: 1, maxLength: 4 }), async (loggedIn, payloads) => {
      run += 1;
      const client = await TestClient.connect(t.url);
      if (loggedIn) await client.login(t.token('mallory'), `fuzz-${run}`, 'android');
      const entry = { client, loggedIn, closeExpected: new Set<number>() };
      fuzzClients.push(entry);
      const before = client.frames.length;
      for (const payload of payloads) {
        if (client.closeCode !== undefined || client.socket.readyState !== client.socket.OPEN) break;
        if (payload.kind === 'binary') client.sendRaw(Buffer.from(payload.bytes), true);
        else if (payload.kind === 'badUtf8') {
          client.sendRaw(Buffer.from(payload.bytes), false);
          entry.closeExpected.add(1007);
          break;
        } else {
          client.sendRaw(payload.text);
          if (payload.kind === 'replay') client.sendRaw(payload.text);
        }
      }
      // Sentinel: the connection still answers, unless a payload legitimately closed it.
      if (client.closeCode === undefined && client.socket.readyState === client.socket.OPEN && !entry.closeExpected.has(1007)) {
        const ref = `sentinel-${run}`;
        client.send({ type: 'ping', ref });
        await client.waitFor((f) => f.type === 'pong' && f.ref === ref, 5000, 'sentinel pong').catch(() => {
          assert.ok(client.closeCode !== undefined, 'no pong, yet the connection is open');
        });
      } else await Promise.race([client.closed, new Promise((r) => setTimeout(r, 2000))]);
      if (entry.closeExpected.has(1007)) {
        // Unless an earlier frame of the run (a valid `logout`) already closed it with 4002.
        const code = await client.closed;
        assert.equal(code, client.frames.some((f) => f.type === 'logged_out') ? 4002 : utf8Close, `invalid UTF-8 closes with ${utf8Close}`);
      } else if (client.closeCode !== undefined) {
        assert.ok(DOCUMENTED_CLOSES.has(client.closeCode), `undocumented close ${client.closeCode}`);
      }
      // Before a login_ok, an anonymous connection only ever gets errors, pongs and the login_ok itself.
      const answers = client.frames.slice(before);
      const loginAt = answers.findIndex((f) => f.type === 'login_ok');
      if (!loggedIn) {
        for (const f of loginAt < 0 ? answers : answers.slice(0, loginAt)) {
          assert.ok(f.type === 'error' || f.type === 'pong', `anonymous connection got ${f.type}`);
        }
      }
      for (const f of answers) {
        if (f.type === 'error') {
          assert.ok(f.code in ERROR_CODES, `unknown code ${f.code}`);
          assert.notEqual(f.code, 'internal', `internal error: ${f.message}`);
        }
      }
      assert.deepEqual(client.invalid, []);
      // A replayed valid send is stored once: both acks name the same message.
      const replayAcks = client.frames.filter((f) => f.type === 'send_ack' && f.ref === 'replayed');
      for (let i = 1; i < replayAcks.length; i += 1) {
        const [a, b] = [replayAcks[i - 1]!, replayAcks[i]!];
        if (a.type === 'send_ack' && b.type === 'send_ack' && a.clientMsgId === b.clientMsgId) {
          assert.equal(a.messageId, b.messageId);
          assert.equal(b.duplicate, true);
        }
      }
      // Control: a fresh connection can still log in, and send to a live client who receives it.
      const control = await TestClient.connect(t.url);
      await control.login(t.token('carol'), 'carol-control', 'web');
      const ack = await control.sendText({ user: 'bob' }, `still up ${run}`, `ctl-${run}`);
      assert.equal(ack.type, 'send_ack');
      await eventually(() => bob.events.some((e) => e.kind === 'message' && e.clientMsgId === `ctl-${run}`), 5000, 'control message');
      await control.close();
    }), { seed: SEED, numRuns: 200, endOnFailure: true, includeErrorInReport: true });

    // Late answers (replies that waited for a commit) are held to the same rules.
    await new Promise((r) => setTimeout(r, 200));
    for (const { client, closeExpected } of fuzzClients) {
      assert.deepEqual(client.invalid, []);
      // Counted here, not per run: answers that wait for a commit (send_ack) may arrive after their run.
      for (const f of client.frames) seen.set(f.type === 'error' ? f.code : f.type, (seen.get(f.type === 'error' ? f.code : f.type) ?? 0) + 1);
      for (const f of client.frames) if (f.type === 'error') assert.ok(f.code in ERROR_CODES && f.code !== 'internal', `late error ${f.code}: ${f.message}`);
      if (client.closeCode !== undefined) {
        assert.ok(DOCUMENTED_CLOSES.has(client.closeCode) || (closeExpected.has(1007) && client.closeCode === utf8Close), `undocumented close ${client.closeCode}`);
      }
    }
    assert.deepEqual(bob.invalid, []);
    assert.ok(run >= 200);
    for (const close of fuzzClients.map((c) => c.client.closeCode)) if (close !== undefined) seen.set(`close:${close}`, (seen.get(`close:${close}`) ?? 0) + 1);
    // The runs really reached every layer: framing, JSON, schema, login gate, handlers.
    for (const expected of ['bad_json', 'bad_frame', 'unknown_type', 'frame_too_large', 'binary_not_supported', 'not_logged_in', `close:${utf8Close}`, 'send_ack', 'pong']) {
      assert.ok(seen.has(expected), `never saw ${expected}: ${JSON.stringify([...seen])}`);
    }
    if (process.env.SECURITY_FUZZ_STATS) console.log(JSON.stringify([...seen].sort((a, b) => b[1] - a[1])));
  } finally {
    for (const { client } of fuzzClients) client.socket.terminate();
    await t.stop();
  }
});

test('over real sockets: specific hostile frames get their documented answers', async () => {
  const t = await startTestServer({ limits: { maxFrameBytes: MAX_FRAME } });
  try {
    const c = await TestClient.connect(t.url);
    const anonymous: Array<[string, string]> = [
      ['{"type":"send","clientMsgId":"m","to":{"user":"bob"},"content":{"type":"text","text":"hi"}}', 'not_logged_in'],
      ['{"type":"sync"}', 'not_logged_in'],
      ['{"type":"logout"}', 'not_logged_in'],
      [`{"type":${'['.repeat(20_000)}${']'.repeat(20_000)}}`, 'unknown_type'],
      ['{"type":"ping","t":1e999}', 'bad_frame'],
      ['{"type":"ping","__proto__":{"isAdmin":true}}', 'bad_frame'],
      ['{"type":"login","token":"v1.e30.AAAA","deviceId":"d","platform":"ios"}', 'token_invalid'],
      [JSON.stringify({ type: 'ping', ref: 'z'.repeat(3 * MAX_FRAME) }), 'frame_too_large'],
    ];
    for (const [text, code] of anonymous) {
      c.sendRaw(text);
      const error = await c.next('error');
      assert.equal(error.code, code, text.slice(0, 60));
    }
    // Still anonymous, still usable.
    await c.login(t.token('mallory'), 'm-phone');
    // Control characters in stored text (NUL cannot be stored in a PostgreSQL text column) are
    // bad frames, refused before anything is written, on every dialect.
    const controls: Array<Record<string, unknown>> = [
      { type: 'group_create', name: 'a\u0000b', members: [] },
      { type: 'group_create', name: 'two\nlines', members: [] },
      { type: 'settings_update', displayName: 'M\u0000' },
      { type: 'push_register', provider: 'fcm', token: 'tok\u0000', credential: 'android' },
      // Numbers beyond a 64-bit column (and a JS number's exact range) are refused the same way.
      { type: 'sync', after: 1e20 },
      { type: 'ack', seq: 2 ** 60 },
      { type: 'read', conversation: 'p:bob:mallory', upTo: 1e19 },
    ];
    for (const frame of controls) {
      c.send(frame as never);
      assert.equal((await c.next('error')).code, 'bad_frame', JSON.stringify(frame));
    }
    // Inside message content it is only text: stored and delivered as sent.
    const ack = await c.sendText({ user: 'mallory' }, 'note\u0000with a NUL', 'n1');
    assert.equal(ack.type, 'send_ack');
    await c.sync(0);
    assert.ok(c.events.some((e) => e.kind === 'message' && (e.content as { text?: string }).text === 'note\u0000with a NUL'));
    assert.deepEqual(c.invalid, []);
  } finally {
    await t.stop();
  }
});
