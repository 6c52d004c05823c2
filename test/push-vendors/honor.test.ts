// Honor Push provider against the fake Honor (Keycloak token endpoint + sendMessage) over real HTTPS.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { CredentialConfigError, RegistrationError, type PushProvider, type PushTarget } from '../../push/vendors/contract.ts';
import { honorVendor, type HonorCredential } from '../../push/vendors/honor/index.ts';
import { classifyHonorAnswer } from '../../push/vendors/honor/honor-outcome.ts';
import { ELLIPSIS } from '../../push/vendors/text-fit.ts';
import { startHonorFake, type FakeHonor } from '../../tools/fakes/honor-server.ts';
import { aroundFake, pushMessage as msg, reasonOf as reason, recordingDeps, refusesOtherRegistrations } from '../helpers/vendor-suite.ts';

const APP_ID = '104412345';
const CLIENT_ID = '104412345-client';
const SECRET = `honor-secret-${randomBytes(12).toString('hex')}`;
const OTHER_APP = '104499999';
const OTHER_CLIENT = 'other-client';
const OTHER_SECRET = `honor-other-${randomBytes(12).toString('hex')}`;
const TOKEN = `BAEAAAAAB.${randomBytes(90).toString('base64url')}`;

const target = (over: Partial<PushTarget> = {}): PushTarget => ({ registration: 'honor', token: TOKEN, credential: 'honor', options: {}, ...over });
const pushIdOf = (body: Record<string, unknown>): string => JSON.parse(String(body.data)).pushId;

describe('Honor Push provider (fake Honor over HTTPS)', () => {
  let fake: FakeHonor;
  const logs: Record<string, unknown>[] = [];
  let nowMs: () => number = Date.now;
  const providers: PushProvider[] = [];
  const vendor = honorVendor;
  const deps = recordingDeps(logs, () => nowMs());
  const cred = (over: Partial<HonorCredential> = {}): HonorCredential => ({
    type: 'honor', appId: APP_ID, clientId: CLIENT_ID, clientSecret: SECRET,
    endpoints: { authUrl: fake.authUrl, pushUrl: fake.url, ca: fake.ca },
    channelId: 'messages', callChannelId: 'calls', badgeClass: 'com.example.tidings.MainActivity', ...over,
  });
  const provider = (over: Partial<HonorCredential> = {}): PushProvider => {
    const p = vendor.create('honor', cred(over), deps);
    providers.push(p);
    return p;
  };

  aroundFake({
    start: () => startHonorFake({
      apps: [{ appId: APP_ID, clientId: CLIENT_ID, clientSecret: SECRET }, { appId: OTHER_APP, clientId: OTHER_CLIENT, clientSecret: OTHER_SECRET }],
    }),
    started: (f) => { fake = f; },
    beforeEach: () => { nowMs = Date.now; },
    providers,
  });

  it('delivers a camelCase message push with the timestamp header; the fake receives the previewed body (PAY-1, PAY-3)', async () => {
    const fixed = Date.now();
    nowMs = () => fixed;
    const m = msg({ collapseId: 'p:alice:bob', badge: 2, expiresAt: Math.floor(fixed / 1000) + 900 });
    const outcome = await provider().send(target(), m);

    assert.equal(fake.received.length, 1, JSON.stringify(fake.rejected));
    const got = fake.received[0]!;
    assert.deepEqual(outcome, { status: 'delivered', vendorId: got.requestId, httpStatus: 200 });
    assert.equal(got.headers.authorization, `Bearer ${got.accessToken}`);
    assert.equal(got.headers.timestamp, String(fixed));
    assert.match(String(got.headers['content-type']), /^application\/json; charset=UTF-8$/);
    assert.equal(fake.tokenRequests.length, 1);
    assert.equal(fake.tokenRequests[0]!.clientId, CLIENT_ID);

    const preview = vendor.preview(target(), m, fixed, cred());
    assert.ok(preview.ok && !preview.truncated);
    const request = preview.request as { url: string; headers: Record<string, string>; body: Record<string, unknown> };
    assert.equal(request.url, `${fake.url}/api/v1/${APP_ID}/sendMessage`);
    assert.equal(request.headers.authorization, 'Bearer <redacted>');
    assert.equal(request.headers.timestamp, String(fixed));
    assert.deepEqual({ ...request.body, token: [TOKEN] }, got.body);
    assert.ok(!JSON.stringify(preview).includes(TOKEN));

    const body = got.body as Record<string, any>;
    assert.deepEqual(body.token, [TOKEN]);
    assert.deepEqual(JSON.parse(body.data), { ...m.data, pushId: m.id });
    assert.equal(body.android.ttl, '900s');
    const n = body.android.notification;
    assert.deepEqual(n.clickAction, { type: 3 });
    assert.equal(n.title, 'Alice');
    assert.equal(n.channelId, 'messages');
    assert.equal(n.importance, 'NORMAL');
    assert.equal(n.tag, 'p:alice:bob');
    assert.ok(Number.isInteger(n.notifyId));
    assert.deepEqual(n.badge, { setNum: 2, badgeClass: 'com.example.tidings.MainActivity' });
  });

  it('a call ring uses the call channel; a background push is data-only (PAY-3, MSG-3)', async () => {
    const p = provider();
    assert.equal((await p.send(target(), msg({ purpose: 'call_ring', data: { type: 'call_ring', callId: 'c1' } }))).status, 'delivered');
    assert.equal((await p.send(target(), msg({ purpose: 'call_over', kind: 'background', title: undefined, body: undefined, data: { callId: 'c1' } }))).status, 'delivered');
    const [ring, over] = fake.received.map((r) => r.body as Record<string, any>);
    assert.equal(ring!.android.notification.channelId, 'calls');
    assert.equal(over!.android, undefined);
    assert.equal(JSON.parse(over!.data).callId, 'c1');
  });

  it('concurrent sends share one token request; the token is reused', async () => {
    fake.control.tokenLatencyMs = 150;
    const p = provider();
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => p.send(target(), msg())));
    assert.deepEqual(outcomes.map((o) => o.status), Array(6).fill('delivered'));
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal(fake.tokenRequests.length, 1);
  });

  it('refreshes before expires_in runs out', async () => {
    const start = Date.now();
    let offset = 0;
    nowMs = () => start + offset;
    // Our clock runs an hour ahead of the fake's: widen its timestamp tolerance for this test.
    fake.control.timestampSkewMs = 2 * 3600_000;
    const p = provider();
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    offset = 3600_000 - 121_000;
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal(fake.tokenRequests.length, 1);
    offset = 3600_000 - 119_000;
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal(fake.tokenRequests.length, 2);
  });

  it('a timestamp header far from the vendor clock is refused (and not pruned)', async () => {
    nowMs = () => Date.now() - 3600_000;
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'retry');
    assert.match(reason(outcome), /timestamp/);
    assert.equal(fake.received.length, 0);
  });

  it('an access token expired mid-run is refreshed and the push delivered exactly once (OPS-3)', async () => {
    const p = provider();
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    fake.control.expireAccessTokens();
    const m = msg();
    assert.equal((await p.send(target(), m)).status, 'delivered');
    assert.deepEqual(fake.rejected.map((r) => r.httpStatus), [401]);
    assert.equal(fake.received.filter((r) => pushIdOf(r.body) === m.id).length, 1);
    assert.equal(fake.tokenRequests.length, 2);
  });

  it('a token refused again after a refresh is config_error, resent only once', async () => {
    fake.control.issueExpiredTokens = true;
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'config_error');
    assert.equal(fake.rejected.length, 2);
    assert.equal(fake.received.length, 0);
  });

  it('a token listed in expireTokens is dead_token (DEV-7)', async () => {
    fake.control.deadTokens.add(TOKEN);
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'dead_token');
    assert.match(reason(outcome), /expireTokens/);
  });

  it('503 / quota is retry with Retry-After; an unknown error code is retry, never dead_token (OPS-3)', async () => {
    const p = provider();
    fake.control.failNext(1, { httpStatus: 503, retryAfterSec: 4 });
    const limited = await p.send(target(), msg());
    assert.equal(limited.status, 'retry');
    assert.equal(limited.status === 'retry' ? limited.retryAfterMs : undefined, 4000);
    fake.control.quotaExceeded = true;
    assert.equal((await p.send(target(), msg())).status, 'retry');
    fake.control.quotaExceeded = false;
    fake.control.failNext(1, { httpStatus: 400, code: 80300007, message: 'all tokens invalid?' });
    const unknown = await p.send(target(), msg());
    assert.equal(unknown.status, 'retry');
    assert.match(reason(unknown), /unverified/);
    assert.equal((await p.send(target(), msg())).status, 'delivered');
  });

  it("a target registered as another vendor's kind is config_error naming the credential, vendor and kind; nothing is sent", () =>
    refusesOtherRegistrations({
      provider: provider(), vendor, label: 'honor', target: target(), message: () => msg(),
      requests: () => fake.received.length + fake.rejected.length + fake.tokenRequests.length,
    }));

  it('a wrong client secret is config_error, asked once; the secret is never echoed', async () => {
    const wrong = `${SECRET}-rotated`;
    const p = provider({ clientSecret: wrong });
    const first = await p.send(target(), msg());
    const second = await p.send(target(), msg());
    assert.equal(first.status, 'config_error');
    assert.equal(second.status, 'config_error');
    assert.match(reason(first), /unauthorized_client/);
    assert.equal(fake.tokenRequests.length, 1);
    assert.equal(fake.received.length + fake.rejected.length, 0);
    assert.ok(!reason(first).includes(wrong) && !JSON.stringify(logs).includes(wrong));
  });

  it('a token endpoint outage is retry', async () => {
    fake.control.failTokenRequests(1, 502);
    const p = provider();
    assert.equal((await p.send(target(), msg())).status, 'retry');
    assert.equal((await p.send(target(), msg())).status, 'delivered');
  });

  it('the wrong app id for the client is config_error after one fresh-token retry', async () => {
    const outcome = await provider({ appId: OTHER_APP }).send(target(), msg());
    assert.equal(outcome.status, 'config_error');
    assert.equal(fake.rejected.length, 2);
    assert.equal(fake.tokenRequests.length, 2);
  });

  it('over-long text is truncated to the body limit; oversized data is rejected (PAY-3)', async () => {
    const fixed = Date.now();
    nowMs = () => fixed;
    const long = msg({ body: '長い'.repeat(3000) });
    const preview = vendor.preview(target(), long, fixed, cred());
    assert.ok(preview.ok && preview.truncated);
    assert.equal((await provider().send(target(), long)).status, 'delivered');
    const n = (fake.received[0]!.body as any).android.notification;
    assert.ok(n.body.endsWith(ELLIPSIS));
    assert.ok(Buffer.byteLength(JSON.stringify(fake.received[0]!.body)) <= 4096);
    assert.equal((await provider().send(target(), msg({ data: { blob: 'y'.repeat(5000) } }))).status, 'rejected');
    assert.equal(fake.received.length, 1);
  });

  it('the credential checks name the setting and never echo the secret (DEV-3)', () => {
    const base = { type: 'honor', appId: APP_ID, clientId: CLIENT_ID, clientSecret: SECRET };
    assert.ok(Value.Check(vendor.credentialSchema, base));
    const cases: [unknown, RegExp][] = [
      [{ ...base, clientSecret: ` ${SECRET}` }, /^push\.credentials\.honor\.clientSecret /],
      [{ type: 'honor', appId: APP_ID, clientSecret: SECRET }, /^push\.credentials\.honor\.clientId: /],
      [{ ...base, importance: 'HIGH' }, /^push\.credentials\.honor\.importance: /],
      [{ ...base, endpoints: { pushUrl: 'http://127.0.0.1:9' } }, /^push\.credentials\.honor\.endpoints\.pushUrl must be an https/],
      [{ ...base, channel_id: 'snake' }, /^push\.credentials\.honor\.channel_id: Unexpected property/],
    ];
    for (const [config, expected] of cases) {
      assert.throws(() => vendor.checkCredential!('honor', config as HonorCredential), (err: unknown) => {
        assert.ok(err instanceof CredentialConfigError);
        assert.match(err.message, expected);
        assert.ok(!err.message.includes(SECRET));
        return true;
      });
    }
  });

  it('registers bounded printable tokens at priority 50 and refuses APNs fields (DEV-1)', () => {
    const [kind] = vendor.registrations;
    assert.equal(kind!.name, 'honor');
    assert.equal(kind!.priority, 50);
    assert.ok(Value.Check(kind!.tokenSchema, TOKEN));
    assert.ok(!Value.Check(kind!.tokenSchema, 'tab\there'));
    assert.throws(() => kind!.options({ environment: 'development' }), RegistrationError);
    assert.deepEqual(kind!.options({}), {});
  });

  it('classifies answers by the known facts only (pure)', () => {
    const answer = (status: number, body: unknown) => ({ status, headers: {}, text: JSON.stringify(body) });
    const c = (status: number, body: unknown) => {
      const r = classifyHonorAnswer(answer(status, body), TOKEN, 0);
      return r.kind === 'outcome' ? r.outcome.status : r.kind;
    };
    assert.equal(c(200, { code: '200', message: 'ok', data: { requestId: 'r' } }), 'delivered');
    assert.equal(c(200, { code: 200, data: { failTokens: [TOKEN] } }), 'retry');
    assert.equal(c(200, { code: 200, data: { expireTokens: ['someone-else'] } }), 'delivered');
    assert.equal(c(401, { code: 80200001 }), 'reauth');
    assert.equal(c(404, 'nope'), 'config_error');
    assert.equal(c(200, { code: 80300002 }), 'retry');
  });

  it('nothing logged carries the secret or the device token', () => {
    const text = JSON.stringify(logs);
    assert.ok(logs.length > 0);
    assert.ok(!text.includes(SECRET) && !text.includes(TOKEN));
  });
});
