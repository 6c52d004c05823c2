// Huawei Push Kit provider against the fake Huawei (OAuth + v1 send) over real HTTPS sockets.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { CredentialConfigError, RegistrationError, type PushProvider, type PushTarget } from '../../push/vendors/contract.ts';
import { huaweiVendor, type HuaweiCredential } from '../../push/vendors/huawei/index.ts';
import { classifyHuaweiAnswer } from '../../push/vendors/huawei/huawei-outcome.ts';
import { ELLIPSIS } from '../../push/vendors/text-fit.ts';
import { startHuaweiFake, type FakeHuawei } from '../../tools/fakes/huawei-server.ts';
import { aroundFake, pushMessage as msg, reasonOf as reason, recordingDeps, refusesOtherRegistrations } from '../helpers/vendor-suite.ts';

const APP_ID = '101234567';
const SECRET = `hw-secret-${randomBytes(12).toString('hex')}`;
const OTHER_APP = '109999999';
const OTHER_SECRET = `hw-other-${randomBytes(12).toString('hex')}`;
const TOKEN = `IQAAAACy0${randomBytes(90).toString('base64url')}`;

const target = (over: Partial<PushTarget> = {}): PushTarget => ({ registration: 'huawei', token: TOKEN, credential: 'hms', options: {}, ...over });

describe('Huawei Push Kit provider (fake Huawei over HTTPS)', () => {
  let fake: FakeHuawei;
  const logs: Record<string, unknown>[] = [];
  let nowMs: () => number = Date.now;
  const providers: PushProvider[] = [];
  const vendor = huaweiVendor;
  const deps = recordingDeps(logs, () => nowMs());

  const cred = (over: Partial<HuaweiCredential> = {}): HuaweiCredential => ({
    type: 'huawei', appId: APP_ID, appSecret: SECRET,
    endpoints: { authUrl: fake.authUrl, pushUrl: fake.url, ca: fake.ca },
    channelId: 'messages', callChannelId: 'calls', badgeClass: 'com.example.tidings.MainActivity', ...over,
  });
  const provider = (over: Partial<HuaweiCredential> = {}, name = 'hms'): PushProvider => {
    const p = vendor.create(name, cred(over), deps);
    providers.push(p);
    return p;
  };

  aroundFake({
    start: () => startHuaweiFake({ apps: [{ appId: APP_ID, appSecret: SECRET }, { appId: OTHER_APP, appSecret: OTHER_SECRET }] }),
    started: (f) => { fake = f; },
    beforeEach: () => { nowMs = Date.now; },
    providers,
  });

  it('delivers a message push; the fake receives exactly the previewed body (PAY-1, PAY-3, PAY-4)', async () => {
    const fixed = Date.now();
    nowMs = () => fixed;
    const m = msg({ collapseId: 'p:alice:bob', badge: 3, expiresAt: Math.floor(fixed / 1000) + 600 });
    const outcome = await provider().send(target(), m);

    assert.equal(fake.received.length, 1);
    const got = fake.received[0]!;
    assert.deepEqual(outcome, { status: 'delivered', vendorId: got.requestId, httpStatus: 200 });
    assert.equal(fake.tokenRequests.length, 1);
    assert.equal(got.headers.authorization, `Bearer ${got.accessToken}`);
    assert.match(String(got.headers['content-type']), /^application\/json;charset=utf-8$/i);

    const preview = vendor.preview(target(), m, fixed, cred());
    assert.ok(preview.ok);
    const request = preview.request as { url: string; method: string; headers: Record<string, string>; body: { message: Record<string, unknown> } };
    assert.equal(request.url, `${fake.url}/v1/${APP_ID}/messages:send`);
    assert.equal(request.method, 'POST');
    assert.equal(request.headers.authorization, 'Bearer <redacted>');
    assert.deepEqual(request.body.message.token, ['<redacted>']);
    assert.deepEqual({ ...request.body, message: { ...request.body.message, token: [TOKEN] } }, got.body);
    assert.ok(!JSON.stringify(preview).includes(TOKEN) && !JSON.stringify(preview).includes(SECRET));

    const wire = got.message as Record<string, any>;
    assert.deepEqual(wire.token, [TOKEN]);
    assert.deepEqual(JSON.parse(wire.data), { ...m.data, pushId: m.id });
    assert.equal(wire.android.category, 'IM');
    assert.equal(wire.android.ttl, '600s');
    assert.equal(wire.android.collapse_key, undefined);
    const n = wire.android.notification;
    assert.equal(n.title, 'Alice');
    assert.equal(n.body, 'hello');
    assert.deepEqual(n.click_action, { type: 3 });
    assert.equal(n.channel_id, 'messages');
    assert.equal(n.importance, 'NORMAL');
    assert.equal(n.tag, 'p:alice:bob');
    assert.ok(Number.isInteger(n.notify_id) && n.notify_id >= 0);
    assert.deepEqual(n.badge, { set_num: 3, class: 'com.example.tidings.MainActivity' });
    assert.equal(got.body.validate_only, false);
  });

  it('the same collapse id gives the same notify_id; another one a different id (PAY-4)', async () => {
    const p = provider();
    await p.send(target(), msg({ collapseId: 'g:team' }));
    await p.send(target(), msg({ collapseId: 'g:team' }));
    await p.send(target(), msg({ collapseId: 'p:alice:bob' }));
    const ids = fake.received.map((r) => (r.message as any).android.notification.notify_id);
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[0], ids[2]);
  });

  it('a call ring is a VOIP notification on the call channel; a badge update is data-only (PAY-3, MSG-3)', async () => {
    const p = provider();
    assert.equal((await p.send(target(), msg({ purpose: 'call_ring', title: 'Incoming call', body: 'Alice is calling', data: { type: 'call_ring', callId: 'c1' } }))).status, 'delivered');
    assert.equal((await p.send(target(), msg({ purpose: 'badge_update', kind: 'background', priority: 'normal', title: undefined, body: undefined, badge: 4, data: {} }))).status, 'delivered');
    const [ring, badge] = fake.received.map((r) => r.message as Record<string, any>);
    assert.equal(ring!.android.category, 'VOIP');
    assert.equal(ring!.android.notification.channel_id, 'calls');
    assert.equal(badge!.android.notification, undefined);
    assert.equal(badge!.android.urgency, 'NORMAL');
    assert.equal(badge!.android.category, undefined);
    assert.equal(JSON.parse(badge!.data).badge, '4');
  });

  it('reuses the access token; concurrent sends share one token request', async () => {
    fake.control.tokenLatencyMs = 150;
    const p = provider();
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => p.send(target(), msg())));
    assert.deepEqual(outcomes.map((o) => o.status), Array(8).fill('delivered'));
    assert.equal(await p.send(target(), msg()).then((o) => o.status), 'delivered');
    assert.equal(fake.tokenRequests.length, 1);
    assert.equal(new Set(fake.received.map((r) => r.accessToken)).size, 1);
  });

  it('refreshes the token 120 s before expires_in runs out', async () => {
    const start = Date.now();
    let offset = 0;
    nowMs = () => start + offset;
    const p = provider();
    await p.send(target(), msg());
    offset = (3600 - 121) * 1000;
    await p.send(target(), msg());
    assert.equal(fake.tokenRequests.length, 1);
    offset = (3600 - 119) * 1000;
    await p.send(target(), msg());
    assert.equal(fake.tokenRequests.length, 2);
    assert.equal(fake.received.length, 3);
  });

  it('an access token expired mid-run is refreshed and the push delivered exactly once (OPS-3)', async () => {
    const p = provider();
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    fake.control.expireAccessTokens();
    const m = msg();
    const outcome = await p.send(target(), m);
    assert.equal(outcome.status, 'delivered');
    assert.deepEqual(fake.rejected.map((r) => r.code), ['80200003']);
    assert.equal(fake.received.filter((r) => JSON.parse(String(r.message.data)).pushId === m.id).length, 1);
    assert.equal(fake.tokenRequests.length, 2);
  });

  it('a token that is expired again after the refresh is resent only once, then retry', async () => {
    fake.control.issueExpiredTokens = true;
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'retry');
    assert.match(reason(outcome), /80200003/);
    assert.deepEqual(fake.rejected.map((r) => r.code), ['80200003', '80200003']);
    assert.equal(fake.received.length, 0);
    assert.equal(fake.tokenRequests.length, 2);
  });

  it('an invalid token is dead_token (DEV-7)', async () => {
    fake.control.deadTokens.add(TOKEN);
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'dead_token');
    assert.match(reason(outcome), /80300007/);
    assert.equal(fake.received.length, 0);
  });

  it('503 flow control is retry with Retry-After, never dead_token (OPS-3)', async () => {
    const p = provider();
    fake.control.failNext(1, { httpStatus: 503, retryAfterSec: 7 });
    const limited = await p.send(target(), msg());
    assert.equal(limited.status, 'retry');
    assert.equal(limited.status === 'retry' ? limited.retryAfterMs : undefined, 7000);
    assert.equal(limited.httpStatus, 503);

    fake.control.quotaExceeded = true;
    fake.control.quotaRetryAfterSec = 30;
    const quota = await p.send(target(), msg());
    assert.equal(quota.status, 'retry');
    assert.equal(quota.status === 'retry' ? quota.retryAfterMs : undefined, 30_000);
    fake.control.quotaExceeded = false;

    fake.control.failNext(1, { httpStatus: 502 });
    fake.control.failNext(1, { httpStatus: 500, code: '81000001', msg: 'Internal error' });
    assert.equal((await p.send(target(), msg())).status, 'retry');
    const internal = await p.send(target(), msg());
    assert.equal(internal.status, 'retry');
    assert.match(reason(internal), /81000001/);
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal(fake.received.length, 1);
  });

  it("a target registered as another vendor's kind is config_error naming the credential, vendor and kind; nothing is sent", () =>
    refusesOtherRegistrations({
      provider: provider(), vendor, label: 'huawei', target: target(), message: () => msg(),
      requests: () => fake.received.length + fake.rejected.length + fake.tokenRequests.length,
    }));

  it('a wrong secret is config_error, asked once, not retried in a storm; the secret is never echoed', async () => {
    const wrong = `${SECRET}-wrong`;
    const start = Date.now();
    let offset = 0;
    nowMs = () => start + offset;
    const p = provider({ appSecret: wrong });
    const first = await p.send(target(), msg());
    const second = await p.send(target(), msg());
    assert.equal(first.status, 'config_error');
    assert.equal(second.status, 'config_error');
    assert.equal(fake.tokenRequests.length, 1);
    assert.equal(fake.tokenRequests[0]!.refused, 'wrong_secret');
    assert.equal(fake.received.length + fake.rejected.length, 0);
    assert.ok(!reason(first).includes(wrong));
    assert.ok(!JSON.stringify(logs).includes(wrong));
    // The refusal is held for a minute, then the token endpoint is asked again.
    offset = 61_000;
    assert.equal((await p.send(target(), msg())).status, 'config_error');
    assert.equal(fake.tokenRequests.length, 2);
  });

  it('a token endpoint outage is retry, and the next send fetches a token', async () => {
    fake.control.failTokenRequests(1, 503, 5);
    const p = provider();
    const down = await p.send(target(), msg());
    assert.equal(down.status, 'retry');
    assert.equal(down.status === 'retry' ? down.retryAfterMs : undefined, 5000);
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal(fake.tokenRequests.length, 2);
  });

  it('an access token of another app is refused with 80200001: config_error, token not pruned', async () => {
    const outcome = await provider({ appId: OTHER_APP, clientId: APP_ID }).send(target(), msg());
    assert.equal(outcome.status, 'config_error');
    assert.match(reason(outcome), /80200001/);
    assert.deepEqual(fake.rejected.map((r) => r.path), [`/v1/${OTHER_APP}/messages:send`]);
  });

  it('over-long text is truncated to the 4 KB body limit; oversized data is rejected (PAY-3)', async () => {
    const fixed = Date.now();
    nowMs = () => fixed;
    const long = msg({ title: 'T'.repeat(300), body: `${'ünïcødé 👩‍👩‍👧 '.repeat(600)}end` });
    const preview = vendor.preview(target(), long, fixed, cred());
    assert.ok(preview.ok && preview.truncated);
    assert.equal((await provider().send(target(), long)).status, 'delivered');
    const got = fake.received[0]!;
    assert.ok(Buffer.byteLength(JSON.stringify(got.body)) <= 4096);
    const n = (got.message as any).android.notification;
    assert.ok(n.body.endsWith(ELLIPSIS) && n.body.length > 100, n.body.slice(-20));
    assert.equal(n.title, long.title);

    const huge = msg({ data: { blob: 'x'.repeat(5000) } });
    assert.deepEqual(vendor.preview(target(), huge, fixed, cred()), { ok: false, reason: 'payload_too_large' });
    const rejected = await provider().send(target(), huge);
    assert.equal(rejected.status, 'rejected');
    assert.equal(fake.received.length, 1);
  });

  it('the credential schema and checkCredential name the setting and never echo the secret (DEV-3)', () => {
    const base = { type: 'huawei', appId: APP_ID, appSecret: SECRET };
    assert.ok(Value.Check(vendor.credentialSchema, base));
    assert.ok(!Value.Check(vendor.credentialSchema, { type: 'huawei', appId: APP_ID }));
    assert.ok(!Value.Check(vendor.credentialSchema, { ...base, appSecert: 'typo' }));
    const cases: [unknown, RegExp][] = [
      [{ ...base, appSecret: `${SECRET}\n` }, /^push\.credentials\.hms\.appSecret /],
      [{ type: 'huawei', appId: APP_ID }, /^push\.credentials\.hms\.appSecret: /],
      [{ ...base, appId: 'has space' }, /^push\.credentials\.hms\.appId: /],
      [{ ...base, endpoints: { authUrl: 'http://127.0.0.1:1/token' } }, /^push\.credentials\.hms\.endpoints\.authUrl must be an https/],
      [{ ...base, endpoints: { pushUrl: 'not a url' } }, /^push\.credentials\.hms\.endpoints\.pushUrl is not a URL/],
      [{ ...base, endpoints: { ca: 'nope' } }, /^push\.credentials\.hms\.endpoints\.ca /],
      [{ ...base, importance: 'URGENT' }, /^push\.credentials\.hms\.importance: /],
      [{ ...base, badgeClass: 'MainActivity' }, /^push\.credentials\.hms\.badgeClass: /],
    ];
    for (const [config, expected] of cases) {
      assert.throws(() => vendor.checkCredential!('hms', config as HuaweiCredential), (err: unknown) => {
        assert.ok(err instanceof CredentialConfigError);
        assert.match(err.message, expected);
        assert.ok(!err.message.includes(SECRET), err.message);
        return true;
      });
    }
    vendor.checkCredential!('hms', cred());
  });

  it('registers printable bounded tokens at priority 50 and refuses APNs fields (DEV-1)', () => {
    const [kind] = vendor.registrations;
    assert.equal(kind!.name, 'huawei');
    assert.equal(kind!.priority, 50);
    assert.ok(kind!.carries('call_ring') && kind!.carries('message'));
    assert.ok(Value.Check(kind!.tokenSchema, TOKEN));
    assert.ok(!Value.Check(kind!.tokenSchema, 'has a space in it'));
    assert.ok(!Value.Check(kind!.tokenSchema, 'x'.repeat(4097)));
    assert.ok(!Value.Check(kind!.tokenSchema, ''));
    assert.equal(kind!.storedToken(TOKEN), TOKEN);
    assert.deepEqual(kind!.options({}), {});
    assert.throws(() => kind!.options({ environment: 'production' }), RegistrationError);
    assert.throws(() => kind!.options({ topic: 'com.example' }), RegistrationError);
  });

  it('classifies the codes it cannot provoke over the wire (pure)', () => {
    const answer = (status: number, body: unknown) => ({ status, headers: {}, text: JSON.stringify(body) });
    const msgOf = (illegal: string[]) => JSON.stringify({ success: 1 - illegal.length, failure: illegal.length, illegal_tokens: illegal });
    const mine = classifyHuaweiAnswer(answer(200, { code: '80100000', msg: msgOf([TOKEN]), requestId: 'r' }), TOKEN, 0);
    assert.equal(mine.kind === 'outcome' && mine.outcome.status, 'dead_token');
    const other = classifyHuaweiAnswer(answer(200, { code: '80100000', msg: msgOf([]), requestId: 'r1' }), TOKEN, 0);
    assert.deepEqual(other.kind === 'outcome' && other.outcome, { status: 'delivered', httpStatus: 200, vendorId: 'r1' });
    const status = (s: number, body: unknown) => {
      const c = classifyHuaweiAnswer(answer(s, body), TOKEN, 0);
      return c.kind === 'outcome' ? c.outcome.status : c.kind;
    };
    assert.equal(status(400, { code: '80300008', msg: 'too big' }), 'rejected');
    assert.equal(status(400, { code: '80300002', msg: 'forbidden' }), 'config_error');
    assert.equal(status(401, { code: '80200003', msg: 'expired' }), 'refresh_token');
    assert.equal(status(400, { code: 80300007, msg: 'numeric code' }), 'dead_token');
    assert.equal(status(404, 'Not Found'), 'config_error');
    assert.equal(status(400, { code: '89999999', msg: 'new code' }), 'retry');
    assert.equal(classifyHuaweiAnswer({ status: 0, headers: {}, text: '', error: 'ECONNRESET' }, TOKEN, 0).kind === 'outcome', true);
  });

  it('nothing logged carries the secret or an access token', () => {
    assert.ok(logs.length > 0);
    const text = JSON.stringify(logs);
    assert.ok(!text.includes(SECRET));
    assert.ok(!text.includes(TOKEN));
    assert.ok(!/Bearer [A-Za-z0-9+/=]{20,}/.test(text));
  });
});
