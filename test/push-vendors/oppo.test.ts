// The OPPO provider against the fake OPPO over a real HTTPS socket (no mocks of our modules).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { CredentialConfigError, RegistrationError, type PushMessage, type PushTarget, type VendorDeps } from '../../push/vendors/contract.ts';
import { oppoVendor, type OppoCredential } from '../../push/vendors/oppo/index.ts';
import { OPPO_CODES, OPPO_LIMITS } from '../../push/vendors/oppo/oppo-facts.ts';
import { oppoNotifyId } from '../../push/vendors/oppo/oppo-payload.ts';
import { ELLIPSIS } from '../../push/vendors/text-fit.ts';
import { startFakeOppo, type FakeOppo } from '../../tools/fakes/oppo-server.ts';
import { aroundFake, pushMessage, recordingDeps, refusesOtherRegistrations } from '../helpers/vendor-suite.ts';

const APP_KEY = 'oppo-app-key-4f1c';
const MASTER_SECRET = 'oppo-master-secret-9d2e7a61b0';
const CHANNEL = 'im_messages';
const REG_ID = 'CN_b6bbd94b59cdb5df8391642c1509b7fe';

const logs: Record<string, unknown>[] = [];
const deps = (): VendorDeps => recordingDeps(logs);
const target = (over: Partial<PushTarget> = {}): PushTarget => ({ registration: 'oppo', token: REG_ID, credential: 'oppo-cn', options: {}, ...over });
const msg = (over: Partial<PushMessage> = {}): PushMessage => pushMessage({ data: { conversation: 'c42' }, ...over });

describe('OPPO provider against the fake OPPO', () => {
  let fake: FakeOppo;
  const credential = (over: Partial<OppoCredential> = {}): OppoCredential => ({
    type: 'oppo', appKey: APP_KEY, masterSecret: MASTER_SECRET, channelId: CHANNEL,
    endpoints: { authUrl: fake.authUrl, pushUrl: fake.pushUrl, ca: fake.ca }, ...over,
  });
  const provider = (over: Partial<OppoCredential> = {}) => oppoVendor.create('oppo-cn', credential(over), deps());

  aroundFake({
    start: () => startFakeOppo({ appKey: APP_KEY, masterSecret: MASTER_SECRET }),
    started: (f) => { fake = f; },
    beforeEach: () => { Object.assign(fake.counts, { authCalls: 0, tokensIssued: 0, unicastCalls: 0, accepted: 0, deduplicated: 0 }); },
    after: () => {
      // Nothing we logged, in any test, carries the secret or an auth token the fake issued.
      const text = JSON.stringify(logs);
      assert.ok(!text.includes(MASTER_SECRET), 'a log entry contains the master secret');
    },
  });

  it('PAY-3: delivers one unicast; the fake got exactly what preview() showed', async () => {
    const now = Date.now();
    const m = msg({ collapseId: 'chat-c42', expiresAt: Math.floor(now / 1000) + 600 });
    const outcome = await provider().send(target(), m);

    assert.equal(fake.received.length, 1);
    const got = fake.received[0]!;
    assert.deepEqual(outcome, { status: 'delivered', vendorId: got.messageId, httpStatus: 200 });
    assert.equal(fake.counts.tokensIssued, 1);

    const preview = oppoVendor.preview(target(), m, now);
    assert.ok(preview.ok);
    const shown = (preview.request.form as { message: Record<string, any> }).message;
    // preview() has no credential: channel_id is a placeholder naming the setting; all else is equal.
    assert.equal(shown.notification.channel_id, '<push.credentials.oppo-cn.channelId>');
    assert.equal(got.message.notification.channel_id, CHANNEL);
    const ttl = got.message.notification.off_line_ttl as number;
    assert.ok(ttl >= 598 && ttl <= 600, `off_line_ttl ${ttl}`);
    assert.deepEqual(
      { ...got.message, notification: { ...got.message.notification, channel_id: 'x', off_line_ttl: 0 } },
      { ...shown, notification: { ...shown.notification, channel_id: 'x', off_line_ttl: 0 } },
    );
    assert.equal((preview.request.form as { auth_token: string }).auth_token, '[redacted]');
    // With the configured credential (the sandbox with push.credentials set) the body is exactly the sent one.
    const exact = oppoVendor.preview(target(), m, now, credential());
    assert.ok(exact.ok);
    assert.equal(exact.request.url, fake.pushUrl);
    const exactShown = (exact.request.form as { message: Record<string, any> }).message;
    assert.deepEqual({ ...got.message, notification: { ...got.message.notification, off_line_ttl: 0 } }, { ...exactShown, notification: { ...exactShown.notification, off_line_ttl: 0 } });

    assert.equal(got.message.target_type, 2);
    assert.equal(got.message.target_value, REG_ID);
    assert.equal(got.message.notification.title, 'Alice');
    assert.equal(got.message.notification.content, 'hello');
    assert.equal(got.message.notification.click_action_type, 0);
    assert.deepEqual(JSON.parse(got.message.notification.action_parameters), { conversation: 'c42' });
    assert.equal(got.message.notification.notify_id, oppoNotifyId('chat-c42'));
    assert.equal(got.message.notification.app_message_id, m.id);
    assert.match(String(got.headers['content-type']), /^application\/x-www-form-urlencoded/);
  });

  it('collapse ids map to stable notify_ids; different ids differ', () => {
    assert.equal(oppoNotifyId('chat-1'), oppoNotifyId('chat-1'));
    assert.notEqual(oppoNotifyId('chat-1'), oppoNotifyId('chat-2'));
    assert.ok(oppoNotifyId('chat-1') > 0 && oppoNotifyId('chat-1') <= 0x7fffffff);
  });

  it('reuses the auth token; concurrent sends share one auth request', async () => {
    const p = provider();
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => p.send(target(), msg())));
    assert.deepEqual(outcomes.map((o) => o.status), Array(6).fill('delivered'));
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal(fake.counts.authCalls, 1);
    assert.equal(new Set(fake.received.map((r) => r.authToken)).size, 1);
  });

  it('DEV-7: an unknown registration id (10000) is dead_token', async () => {
    fake.control.deadTokens.add(REG_ID);
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'dead_token');
    assert.match('reason' in outcome ? outcome.reason : '', /10000/);
    assert.equal(fake.received.length, 0);
  });

  it('an auth token expired mid-run (11) is renewed and the push delivered exactly once', async () => {
    const p = provider();
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    fake.control.expireTokensNow();
    const m = msg();
    const outcome = await p.send(target(), m);
    assert.equal(outcome.status, 'delivered');
    assert.equal(fake.counts.tokensIssued, 2);
    assert.deepEqual(fake.rejected.map((r) => r.code), [OPPO_CODES.INVALID_AUTH_TOKEN]);
    assert.equal(fake.received.filter((r) => r.message.notification.app_message_id === m.id).length, 1);
  });

  it('a resend of the same push (same message.id) carries the same app_message_id: one message at the fake', async () => {
    const m = msg();
    const first = await provider().send(target(), m);
    const again = await provider().send(target(), m);
    assert.equal(first.status, 'delivered');
    assert.deepEqual(again, first);
    assert.equal(fake.received.length, 1);
    assert.equal(fake.counts.deduplicated, 1);
  });

  it('a token refused twice is resent only once, then retried later', async () => {
    const p = provider();
    fake.control.failNext(2, OPPO_CODES.INVALID_AUTH_TOKEN);
    const outcome = await p.send(target(), msg());
    assert.equal(outcome.status, 'retry');
    assert.equal(fake.counts.unicastCalls, 2);
    assert.equal(fake.received.length, 0);
  });

  it('OPS-3: daily quota exceeded (33) is a retry after the next full hour, never dead_token', async () => {
    fake.control.quotaExceeded = true;
    const before = Date.now();
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'retry');
    const wait = outcome.status === 'retry' ? outcome.retryAfterMs ?? 0 : 0;
    const untilNextHour = Math.ceil((before + 1) / 3600_000) * 3600_000 - before;
    assert.ok(wait >= Math.min(untilNextHour, 5 * 60_000) - 1000 && wait <= 3600_000, `retryAfterMs ${wait}`);
  });

  it('OPS-3: flow control (-2), frequency limit (55) and HTTP 502 are retries', async () => {
    const p = provider();
    fake.control.failNext(1, OPPO_CODES.FLOW_CONTROL);
    assert.equal((await p.send(target(), msg())).status, 'retry');
    fake.control.failNext(1, OPPO_CODES.FREQUENCY_LIMIT);
    assert.equal((await p.send(target(), msg())).status, 'retry');
    fake.control.failNextHttp(1, 502);
    const outcome = await p.send(target(), msg());
    assert.equal(outcome.status, 'retry');
    assert.equal(outcome.status === 'retry' ? outcome.httpStatus : 0, 502);
    assert.equal((await p.send(target(), msg())).status, 'delivered');
  });

  it('a wrong master secret is config_error (16) and sends nothing', async () => {
    const outcome = await provider({ masterSecret: 'not-the-secret' }).send(target(), msg());
    assert.equal(outcome.status, 'config_error');
    assert.match('reason' in outcome ? outcome.reason : '', /code 16/);
    assert.equal(fake.counts.unicastCalls, 0);
    assert.ok(!JSON.stringify(outcome).includes('not-the-secret'));
  });

  it('a wrong app key is config_error (14)', async () => {
    const outcome = await provider({ appKey: 'someone-else' }).send(target(), msg());
    assert.equal(outcome.status, 'config_error');
    assert.match('reason' in outcome ? outcome.reason : '', /code 14/);
  });

  it('bad arguments (41) are rejected', async () => {
    fake.control.failNext(1, OPPO_CODES.INVALID_ARGUMENT);
    assert.equal((await provider().send(target(), msg())).status, 'rejected');
  });

  it('an unreachable OPPO is a retry, not an exception', async () => {
    const outcome = await provider({ endpoints: { authUrl: 'https://127.0.0.1:1/server/v1/auth', pushUrl: fake.pushUrl, ca: fake.ca } }).send(target(), msg());
    assert.equal(outcome.status, 'retry');
  });

  it('PAY-3: cuts title to 50 and content to 200 characters; data too big is rejected', async () => {
    const outcome = await provider().send(target(), msg({ title: 'T'.repeat(80), body: '长'.repeat(500) }));
    assert.equal(outcome.status, 'delivered');
    const n = fake.received[0]!.message.notification;
    assert.equal(n.title.length, OPPO_LIMITS.titleChars);
    assert.ok(n.title.endsWith(ELLIPSIS));
    assert.equal(n.content.length, OPPO_LIMITS.contentChars);
    const big = await provider().send(target(), msg({ data: { blob: 'x'.repeat(5000) } }));
    assert.deepEqual(big, { status: 'rejected', reason: 'payload_too_large' });
    assert.equal(oppoVendor.preview(target(), msg({ data: { blob: 'x'.repeat(5000) } }), Date.now()).ok, false);
  });

  it('a call ring goes as a notification; a background push is rejected without a call', async () => {
    const ring = await provider().send(target(), msg({ purpose: 'call_ring', kind: 'voip', title: 'Incoming call', body: 'Alice is calling', collapseId: 'call-7' }));
    assert.equal(ring.status, 'delivered');
    assert.equal(fake.received[0]!.message.notification.title, 'Incoming call');
    const badge = await provider().send(target(), msg({ purpose: 'badge_update', kind: 'background', title: undefined, body: undefined, badge: 3 }));
    assert.equal(badge.status, 'rejected');
    assert.match(badge.status === 'rejected' ? badge.reason : '', /^not_supported: /);
    assert.equal(fake.counts.unicastCalls, 1);
    const previewed = oppoVendor.preview(target(), msg({ purpose: 'badge_update', kind: 'background' }), Date.now());
    assert.equal(previewed.ok === false && previewed.reason, 'not_supported');
  });

  it("a target registered as another vendor's kind is config_error naming the credential, vendor and kind; nothing is sent", () =>
    refusesOtherRegistrations({
      provider: provider(), vendor: oppoVendor, label: 'OPPO', target: target(), message: () => msg(),
      requests: () => fake.counts.authCalls + fake.counts.unicastCalls,
    }));

  it('checkCredential refuses a credential without channelId, naming the setting and no secret', () => {
    const c = { type: 'oppo' as const, appKey: APP_KEY, masterSecret: MASTER_SECRET };
    assert.throws(() => oppoVendor.checkCredential!('oppo-cn', c), (err: unknown) =>
      err instanceof CredentialConfigError && /push\.credentials\.oppo-cn\.channelId/.test(err.message) && !err.message.includes(MASTER_SECRET));
    assert.throws(() => oppoVendor.checkCredential!('oppo-cn', { ...c, channelId: CHANNEL, endpoints: { pushUrl: 'http://example.test/x' } }),
      (err: unknown) => err instanceof CredentialConfigError && /endpoints\.pushUrl/.test(err.message));
    assert.doesNotThrow(() => oppoVendor.checkCredential!('oppo-cn', { ...c, channelId: CHANNEL }));
  });

  it('the credential schema names the failing setting and does not echo the secret', () => {
    const bad = { type: 'oppo', appKey: APP_KEY, masterSecret: 42, channelId: CHANNEL, extra: MASTER_SECRET };
    const errors = [...Value.Errors(oppoVendor.credentialSchema, bad)];
    assert.ok(errors.some((e) => e.path === '/masterSecret'));
    assert.ok(errors.every((e) => !e.message.includes(MASTER_SECRET)));
    assert.ok(Value.Check(oppoVendor.credentialSchema, credential()));
  });

  it('registration: a bounded string token, priority 50, carries every visible purpose (not badge_update, call_over), refuses APNs fields', () => {
    const [kind] = oppoVendor.registrations;
    assert.equal(kind!.name, 'oppo');
    assert.equal(kind!.priority, 50);
    assert.ok(Value.Check(kind!.tokenSchema, REG_ID));
    assert.ok(!Value.Check(kind!.tokenSchema, 'x'.repeat(300)));
    assert.ok(!Value.Check(kind!.tokenSchema, 'has space inside'));
    assert.equal(kind!.storedToken(REG_ID), REG_ID);
    for (const p of ['message', 'call_ring', 'missed_call', 'test'] as const) assert.equal(kind!.carries(p), true, p);
    // No silent push on this vendor: these go to the device's next carrier (FCM).
    for (const p of ['call_over', 'badge_update'] as const) assert.equal(kind!.carries(p), false, p);
    assert.deepEqual(kind!.options({}), {});
    assert.throws(() => kind!.options({ environment: 'production' }), RegistrationError);
    assert.throws(() => kind!.options({ topic: 'com.example' }), RegistrationError);
  });

  it('logs never carry the master secret or an auth token', async () => {
    logs.length = 0;
    const p = provider();
    await p.send(target(), msg());
    fake.control.expireTokensNow();
    await p.send(target(), msg());
    await provider({ masterSecret: 'wrong-secret-xyz' }).send(target(), msg());
    const text = JSON.stringify(logs);
    assert.ok(logs.length >= 4);
    assert.ok(!text.includes(MASTER_SECRET) && !text.includes('wrong-secret-xyz'));
    for (const r of fake.received) assert.ok(!text.includes(r.authToken));
  });
});
