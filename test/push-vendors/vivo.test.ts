// The vivo provider against the fake vivo over a real HTTPS socket (no mocks of our modules).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { CredentialConfigError, RegistrationError, type PushMessage, type PushTarget, type VendorDeps, type VendorStateStore } from '../../push/vendors/contract.ts';
import { vivoVendor, type VivoCredential } from '../../push/vendors/vivo/index.ts';
import { vivoTokenStateKey } from '../../push/vendors/vivo/vivo-auth.ts';
import { VIVO_CODES, VIVO_LIMITS } from '../../push/vendors/vivo/vivo-facts.ts';
import { vivoTextUnits } from '../../push/vendors/vivo/vivo-payload.ts';
import { ELLIPSIS } from '../../push/vendors/text-fit.ts';
import { startFakeVivo, type FakeVivo } from '../../tools/fakes/vivo-server.ts';
import { aroundFake, memoryState, pushMessage, recordingDeps, refusesOtherRegistrations } from '../helpers/vendor-suite.ts';

const APP_ID = 105562603;
const APP_KEY = '25509283-3767-4b9e-83fe-b6e55ac6243e';
const APP_SECRET = 'vivo-app-secret-7c1d90e2aa5f';
const REG_ID = 'v2-CQanxnrM-uZu6i_y_E3PpymvRvSJhhFjaOwQxbGE-jJ0BNLa0IUm';

const logs: Record<string, unknown>[] = [];
const deps = (state: VendorStateStore = memoryState()): VendorDeps => recordingDeps(logs, Date.now, state);
const target = (over: Partial<PushTarget> = {}): PushTarget => ({ registration: 'vivo', token: REG_ID, credential: 'vivo-main', options: {}, ...over });
const msg = (over: Partial<PushMessage> = {}): PushMessage => pushMessage({ data: { conversation: 'c42' }, ...over });

describe('vivo provider against the fake vivo', () => {
  let fake: FakeVivo;
  const credential = (over: Partial<VivoCredential> = {}): VivoCredential => ({
    type: 'vivo', appId: APP_ID, appKey: APP_KEY, appSecret: APP_SECRET,
    endpoints: { authUrl: fake.authUrl, pushUrl: fake.pushUrl, ca: fake.ca }, ...over,
  });
  const provider = (over: Partial<VivoCredential> = {}, state?: VendorStateStore) => vivoVendor.create('vivo-main', credential(over), deps(state));

  aroundFake({
    start: () => startFakeVivo({ appId: APP_ID, appKey: APP_KEY, appSecret: APP_SECRET }),
    started: (f) => { fake = f; },
    beforeEach: () => { Object.assign(fake.counts, { authCalls: 0, tokensIssued: 0, sendCalls: 0, accepted: 0, deduplicated: 0 }); },
  });

  it('PAY-3: delivers one send; the fake got exactly what preview() showed', async () => {
    const now = Date.now();
    const m = msg({ expiresAt: Math.floor(now / 1000) + 600 });
    const outcome = await provider().send(target(), m);

    assert.equal(fake.received.length, 1);
    const got = fake.received[0]!;
    assert.deepEqual(outcome, { status: 'delivered', vendorId: got.taskId, httpStatus: 200 });
    assert.equal(fake.counts.tokensIssued, 1);
    assert.equal(got.headers.authtoken, got.authToken);

    const preview = vivoVendor.preview(target(), m, now);
    assert.ok(preview.ok);
    const shown = preview.request.body as Record<string, any>;
    // preview() has no credential: appId is a placeholder naming the setting; all else is equal.
    assert.equal(shown.appId, '<push.credentials.vivo-main.appId>');
    assert.equal(got.body.appId, APP_ID);
    const ttl = got.body.timeToLive as number;
    assert.ok(ttl >= 598 && ttl <= 600, `timeToLive ${ttl}`);
    assert.deepEqual({ ...got.body, appId: 0, timeToLive: 0 }, { ...shown, appId: 0, timeToLive: 0 });
    assert.equal((preview.request.headers as Record<string, string>).authToken, '[redacted]');
    // With the configured credential (the sandbox with push.credentials set) the body is exactly the sent one.
    const exact = vivoVendor.preview(target(), m, now, credential());
    assert.ok(exact.ok);
    assert.deepEqual({ ...got.body, timeToLive: 0 }, { ...(exact.request.body as Record<string, unknown>), timeToLive: 0 });

    assert.equal(got.body.regId, REG_ID);
    assert.equal(got.body.requestId, m.id);
    assert.equal(got.body.classification, 1);
    assert.equal(got.body.category, 'IM');
    assert.equal(got.body.pushMode, 0);
    assert.equal(got.body.skipType, 1);
    assert.deepEqual(got.body.clientCustomMap, { conversation: 'c42' });
  });

  it('concurrent sends share one auth request', async () => {
    const p = provider();
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => p.send(target(), msg())));
    assert.deepEqual(outcomes.map((o) => o.status), Array(6).fill('delivered'));
    assert.equal(fake.counts.authCalls, 1);
  });

  it('the token persisted through the state store is reused by a second provider instance', async () => {
    const state = memoryState();
    assert.equal((await provider({}, state).send(target(), msg())).status, 'delivered');
    assert.equal(fake.counts.authCalls, 1);
    // A restart: a new provider, the same store.
    const restarted = provider({}, state);
    assert.equal((await restarted.send(target(), msg())).status, 'delivered');
    assert.equal((await restarted.send(target(), msg())).status, 'delivered');
    assert.equal(fake.counts.authCalls, 1);
    assert.equal(new Set(fake.received.map((r) => r.authToken)).size, 1);
    // The store holds the token under a key that names the credential, never the key or secret.
    const [key, entry] = [...state.map][0]!;
    assert.equal(key, vivoTokenStateKey('vivo-main', APP_ID, APP_KEY));
    assert.ok(!key.includes(APP_KEY) && !key.includes(APP_SECRET) && !entry.value.includes(APP_SECRET));
    assert.ok(entry.expiresAt > Date.now() + 20 * 3600_000 && entry.expiresAt <= Date.now() + 24 * 3600_000);
  });

  it('a stored token due for renewal is renewed; if renewal hits the auth cap (10250) the older one is used', async () => {
    const state = memoryState();
    await provider({}, state).send(target(), msg());
    const key = vivoTokenStateKey('vivo-main', APP_ID, APP_KEY);
    const held = JSON.parse(state.map.get(key)!.value) as { token: string; issuedAt: number };
    const aged = JSON.stringify({ ...held, issuedAt: Date.now() - 3 * 3600_000 });
    await state.set(key, aged, Date.now() + 3600_000);

    fake.control.authCallsPerDay = 1; // the one call above used it up
    assert.equal((await provider({}, state).send(target(), msg())).status, 'delivered');
    assert.equal(fake.counts.authCalls, 2);
    assert.deepEqual(fake.rejected.map((r) => r.result), [VIVO_CODES.AUTH_CALL_LIMIT]);
    assert.equal(fake.received.at(-1)!.authToken, held.token);

    fake.control.authCallsPerDay = 10_000;
    await state.set(key, aged, Date.now() + 3600_000);
    assert.equal((await provider({}, state).send(target(), msg())).status, 'delivered');
    assert.notEqual(fake.received.at(-1)!.authToken, held.token);
  });

  it('the auth call cap with no usable token is a retry much later, never dead_token', async () => {
    fake.control.authCallsPerDay = 0;
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'retry');
    assert.ok((outcome.status === 'retry' ? outcome.retryAfterMs ?? 0 : 0) >= 5 * 60_000 - 1000);
  });

  it('a resend of the same push (same message.id) is deduped by requestId at the fake', async () => {
    const m = msg();
    const first = await provider().send(target(), m);
    const again = await provider().send(target(), m);
    assert.equal(first.status, 'delivered');
    assert.deepEqual(again, first);
    assert.equal(fake.received.length, 1);
    assert.equal(fake.counts.deduplicated, 1);
  });

  it('an auth token expired mid-run is renewed, the push delivered exactly once and the new token stored', async () => {
    const state = memoryState();
    const p = provider({}, state);
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    fake.control.expireTokensNow();
    const m = msg();
    assert.equal((await p.send(target(), m)).status, 'delivered');
    assert.equal(fake.counts.tokensIssued, 2);
    assert.deepEqual(fake.rejected.map((r) => r.result), [VIVO_CODES.AUTH_TOKEN_INVALID]);
    assert.equal(fake.received.filter((r) => r.body.requestId === m.id).length, 1);
    // The renewed token is what a restarted provider finds.
    assert.equal((await provider({}, state).send(target(), msg())).status, 'delivered');
    assert.equal(fake.counts.tokensIssued, 2);
  });

  it('a token refused twice is resent only once, then retried later', async () => {
    fake.control.failNext(2, VIVO_CODES.AUTH_TOKEN_INVALID);
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'retry');
    assert.equal(fake.counts.sendCalls, 2);
  });

  it('DEV-7: an illegal regId (10302) and invalidUser 1/3 are dead_token; 2 (notifications off) is delivered', async () => {
    fake.control.deadTokens.add(REG_ID);
    assert.equal((await provider().send(target(), msg())).status, 'dead_token');
    fake.control.reset();
    fake.control.invalidUsers.set(REG_ID, 1);
    assert.equal((await provider().send(target(), msg())).status, 'dead_token');
    fake.control.invalidUsers.set(REG_ID, 3);
    assert.equal((await provider().send(target(), msg())).status, 'dead_token');
    fake.control.invalidUsers.set(REG_ID, 2);
    assert.equal((await provider().send(target(), msg())).status, 'delivered');
  });

  it('OPS-3: the day\'s send quota (10070) is a retry after the next full hour, never dead_token', async () => {
    fake.control.quotaExceeded = true;
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'retry');
    const wait = outcome.status === 'retry' ? outcome.retryAfterMs ?? 0 : 0;
    assert.ok(wait >= 5 * 60_000 - 1000 && wait <= 3600_000, `retryAfterMs ${wait}`);
  });

  it('OPS-3: too frequent (10072) and HTTP 500 are retries', async () => {
    fake.control.failNext(1, VIVO_CODES.TOO_FREQUENT);
    assert.equal((await provider().send(target(), msg())).status, 'retry');
    fake.control.failNextHttp(1, 500);
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'retry');
    assert.equal(outcome.status === 'retry' ? outcome.httpStatus : 0, 500);
  });

  it("a target registered as another vendor's kind is config_error naming the credential, vendor and kind; nothing is sent", () =>
    refusesOtherRegistrations({
      provider: provider(), vendor: vivoVendor, label: 'vivo', target: target(), message: () => msg(),
      requests: () => fake.counts.authCalls + fake.counts.sendCalls,
    }));

  it('a wrong app secret is config_error (10206) and sends nothing; a wrong appKey too (10200)', async () => {
    const wrongSecret = await provider({ appSecret: 'not-the-secret' }).send(target(), msg());
    assert.equal(wrongSecret.status, 'config_error');
    assert.match('reason' in wrongSecret ? wrongSecret.reason : '', /10206/);
    assert.equal(fake.counts.sendCalls, 0);
    const wrongKey = await provider({ appKey: 'someone-else' }).send(target(), msg());
    assert.equal(wrongKey.status, 'config_error');
    assert.match('reason' in wrongKey ? wrongKey.reason : '', /10200/);
  });

  it('PAY-3: title and content are cut to vivo\'s limits (CJK counts 2); too much data is rejected', async () => {
    const outcome = await provider().send(target(), msg({ title: '标题'.repeat(30), body: 'word '.repeat(60) }));
    assert.equal(outcome.status, 'delivered');
    const b = fake.received[0]!.body;
    assert.ok(vivoTextUnits(b.title) <= VIVO_LIMITS.titleUnits && vivoTextUnits(b.title) >= VIVO_LIMITS.titleUnits - 2);
    assert.ok(b.title.endsWith(ELLIPSIS));
    assert.ok(vivoTextUnits(b.content) <= VIVO_LIMITS.contentUnits);
    const tooMany = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v']));
    assert.deepEqual(await provider().send(target(), msg({ data: tooMany })), { status: 'rejected', reason: 'payload_too_large' });
    assert.deepEqual(await provider().send(target(), msg({ data: { blob: 'x'.repeat(1100) } })), { status: 'rejected', reason: 'payload_too_large' });
    assert.equal(vivoVendor.preview(target(), msg({ data: tooMany }), Date.now()).ok, false);
    assert.equal(fake.counts.sendCalls, 1);
  });

  it('a call ring is a system message of category IM; a background push is rejected without a call', async () => {
    const ring = await provider().send(target(), msg({ purpose: 'call_ring', kind: 'voip', title: 'Incoming call', body: 'Alice is calling' }));
    assert.equal(ring.status, 'delivered');
    assert.equal(fake.received[0]!.body.category, 'IM');
    assert.equal(fake.received[0]!.body.classification, 1);
    const background = await provider().send(target(), msg({ kind: 'background', purpose: 'badge_update' }));
    assert.equal(background.status, 'rejected');
    assert.match(background.status === 'rejected' ? background.reason : '', /^not_supported: /);
    const previewed = vivoVendor.preview(target(), msg({ kind: 'background', purpose: 'badge_update' }), Date.now());
    assert.equal(previewed.ok === false && previewed.reason, 'not_supported');
    assert.equal(fake.counts.sendCalls, 1);
  });

  it('a long push id still gives a requestId of at most 64 characters, stable across retries', async () => {
    const id = `push-${'x'.repeat(100)}`;
    await provider().send(target(), msg({ id }));
    await provider().send(target(), msg({ id }));
    assert.equal(fake.received.length, 1);
    assert.ok(fake.received[0]!.body.requestId.length <= 64);
  });

  it('pushMode test and skipContent come from the credential', async () => {
    await provider({ pushMode: 'test', skipContent: 'intent://chat#Intent;scheme=tidings;end' }).send(target(), msg());
    const b = fake.received[0]!.body;
    assert.equal(b.pushMode, 1);
    assert.equal(b.skipType, 4);
    assert.equal(b.skipContent, 'intent://chat#Intent;scheme=tidings;end');
  });

  it('checkCredential and the schema name the setting and never echo secrets', () => {
    assert.throws(() => vivoVendor.checkCredential!('vivo-main', credential({ appSecret: ` ${APP_SECRET}` })),
      (err: unknown) => err instanceof CredentialConfigError && /push\.credentials\.vivo-main\.appSecret/.test(err.message) && !err.message.includes(APP_SECRET));
    assert.throws(() => vivoVendor.checkCredential!('vivo-main', credential({ endpoints: { authUrl: 'not a url' } })),
      (err: unknown) => err instanceof CredentialConfigError && /endpoints\.authUrl/.test(err.message));
    assert.doesNotThrow(() => vivoVendor.checkCredential!('vivo-main', credential()));
    const errors = [...Value.Errors(vivoVendor.credentialSchema, { type: 'vivo', appId: 'abc', appKey: APP_KEY, appSecret: APP_SECRET })];
    assert.ok(errors.some((e) => e.path === '/appId'));
    assert.ok(errors.every((e) => !e.message.includes(APP_SECRET)));
  });

  it('registration: a bounded string token, priority 50, carries every visible purpose (not badge_update, call_over), refuses APNs fields', () => {
    const [kind] = vivoVendor.registrations;
    assert.equal(kind!.name, 'vivo');
    assert.equal(kind!.priority, 50);
    assert.ok(Value.Check(kind!.tokenSchema, REG_ID));
    assert.ok(!Value.Check(kind!.tokenSchema, 'x'.repeat(300)));
    assert.equal(kind!.storedToken(REG_ID), REG_ID);
    for (const p of ['message', 'call_ring', 'missed_call', 'test'] as const) assert.equal(kind!.carries(p), true, p);
    // No silent push on this vendor: these go to the device's next carrier (FCM).
    for (const p of ['call_over', 'badge_update'] as const) assert.equal(kind!.carries(p), false, p);
    assert.throws(() => kind!.options({ environment: 'development' }), RegistrationError);
    assert.throws(() => kind!.options({ topic: 'com.example' }), RegistrationError);
  });

  it('logs never carry the app secret or an auth token', async () => {
    logs.length = 0;
    const p = provider();
    await p.send(target(), msg());
    fake.control.expireTokensNow();
    await p.send(target(), msg());
    await provider({ appSecret: 'wrong-secret-xyz' }).send(target(), msg());
    const text = JSON.stringify(logs);
    assert.ok(logs.length >= 4);
    assert.ok(!text.includes(APP_SECRET) && !text.includes('wrong-secret-xyz'));
    for (const r of fake.received) assert.ok(!text.includes(r.authToken));
  });
});
