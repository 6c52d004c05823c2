// Xiaomi MiPush provider against the fake MiPush (form bodies, `key=` auth) over real HTTPS.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { CredentialConfigError, RegistrationError, type PushMessage, type PushProvider, type PushTarget } from '../../push/vendors/contract.ts';
import { xiaomiVendor, type XiaomiCredential } from '../../push/vendors/xiaomi/index.ts';
import { msUntilNextBeijingMidnight } from '../../push/vendors/xiaomi/xiaomi-facts.ts';
import { classifyXiaomiAnswer } from '../../push/vendors/xiaomi/xiaomi-outcome.ts';
import { ELLIPSIS } from '../../push/vendors/text-fit.ts';
import { startXiaomiFake, type FakeXiaomi } from '../../tools/fakes/xiaomi-server.ts';
import { aroundFake, pushMessage, reasonOf as reason, recordingDeps, refusesOtherRegistrations } from '../helpers/vendor-suite.ts';

const SECRET = `mi${randomBytes(11).toString('base64url')}==`;
const PACKAGE = 'com.example.tidings';
const TOKEN = `${randomBytes(32).toString('base64')}`.replace(/,/g, 'x');

const msg = (over: Partial<PushMessage> = {}): PushMessage => pushMessage({ body: 'hello there', ...over });
const target = (over: Partial<PushTarget> = {}): PushTarget => ({ registration: 'xiaomi', token: TOKEN, credential: 'mi', options: {}, ...over });

describe('Xiaomi MiPush provider (fake MiPush over HTTPS)', () => {
  let fake: FakeXiaomi;
  const logs: Record<string, unknown>[] = [];
  let nowMs: () => number = Date.now;
  const providers: PushProvider[] = [];
  const vendor = xiaomiVendor;
  const deps = recordingDeps(logs, () => nowMs());
  const cred = (over: Partial<XiaomiCredential> = {}): XiaomiCredential => ({
    type: 'xiaomi', appSecret: SECRET, packageName: PACKAGE, endpoints: { pushUrl: fake.url, ca: fake.ca },
    channelId: 'messages', callChannelId: 'calls', ...over,
  });
  const provider = (over: Partial<XiaomiCredential> = {}, name = 'mi'): PushProvider => {
    const p = vendor.create(name, cred(over), deps);
    providers.push(p);
    return p;
  };

  aroundFake({
    start: () => startXiaomiFake({ apps: [{ appSecret: SECRET, packageNames: [PACKAGE] }] }),
    started: (f) => { fake = f; },
    beforeEach: () => { nowMs = Date.now; },
    providers,
  });

  it('delivers a notification as a form body; the fake receives exactly the previewed fields (PAY-1, PAY-3)', async () => {
    const fixed = Date.now();
    nowMs = () => fixed;
    const m = msg({ collapseId: 'p:alice:bob', expiresAt: Math.floor(fixed / 1000) + 600 });
    const outcome = await provider().send(target(), m);
    assert.equal(fake.received.length, 1, JSON.stringify(fake.rejected));
    const got = fake.received[0]!;
    assert.deepEqual(outcome, { status: 'delivered', vendorId: got.messageId, httpStatus: 200 });
    assert.equal(got.path, '/v3/message/regid');
    assert.equal(got.headers.authorization, `key=${SECRET}`);
    assert.match(String(got.headers['content-type']), /^application\/x-www-form-urlencoded/);

    const preview = vendor.preview(target(), m, fixed, cred());
    assert.ok(preview.ok && !preview.truncated);
    const request = preview.request as { url: string; headers: Record<string, string>; body: Record<string, string> };
    assert.equal(request.url, `${fake.url}/v3/message/regid`);
    assert.equal(request.headers.authorization, 'key=<redacted>');
    assert.equal(request.body.registration_id, '<redacted>');
    assert.deepEqual({ ...request.body, registration_id: TOKEN }, got.fields);
    assert.ok(!JSON.stringify(preview).includes(SECRET) && !JSON.stringify(preview).includes(TOKEN));

    const f = got.fields;
    assert.equal(f.registration_id, TOKEN);
    assert.equal(f.restricted_package_name, PACKAGE);
    assert.equal(f.pass_through, '0');
    assert.equal(f.title, 'Alice');
    assert.equal(f.description, 'hello there');
    assert.equal(f.notify_type, '-1');
    assert.match(f.notify_id!, /^\d+$/);
    assert.equal(f.time_to_live, '600000');
    assert.equal(f['extra.notify_foreground'], '1');
    assert.equal(f['extra.channel_id'], 'messages');
    assert.equal(f['extra.notify_effect'], '1');
    assert.deepEqual(JSON.parse(f.payload!), { ...m.data, pushId: m.id });
    assert.equal(f['extra.sender'], 'alice');
    assert.equal(f['extra.pushId'], m.id);
  });

  it('notify_id: one per conversation, a fresh one per push without a collapse id (PAY-4)', async () => {
    const p = provider();
    await p.send(target(), msg({ collapseId: 'g:team' }));
    await p.send(target(), msg({ collapseId: 'g:team' }));
    await p.send(target(), msg());
    await p.send(target(), msg());
    const ids = fake.received.map((r) => r.fields.notify_id);
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[2], ids[3]);
    assert.notEqual(ids[0], ids[2]);
  });

  it('a call ring uses the call channel; a background push is pass-through (PAY-3, MSG-3)', async () => {
    const p = provider();
    assert.equal((await p.send(target(), msg({ purpose: 'call_ring', data: { type: 'call_ring', callId: 'c1' } }))).status, 'delivered');
    assert.equal((await p.send(target(), msg({ purpose: 'badge_update', kind: 'background', title: undefined, body: undefined, badge: 5, data: {} }))).status, 'delivered');
    const [ring, badge] = fake.received.map((r) => r.fields);
    assert.equal(ring!['extra.channel_id'], 'calls');
    assert.equal(badge!.pass_through, '1');
    assert.equal(badge!.title, undefined);
    assert.equal(badge!.description, undefined);
    assert.equal(JSON.parse(badge!.payload!).badge, '5');
  });

  it('a data key named like a MiPush extra stays in payload and cannot switch a vendor feature', async () => {
    await provider().send(target(), msg({ data: { channel_id: 'evil', notify_effect: '3', ok: 'yes' } }));
    const f = fake.received[0]!.fields;
    assert.equal(f['extra.channel_id'], 'messages');
    assert.equal(f['extra.notify_effect'], '1');
    assert.equal(f['extra.ok'], 'yes');
    assert.equal(JSON.parse(f.payload!).channel_id, 'evil');
  });

  it('an unknown registration id is dead_token (DEV-7)', async () => {
    fake.control.deadTokens.add(TOKEN);
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'dead_token');
    assert.match(reason(outcome), /20301/);
  });

  it('quota and frequency answers are retry with a delay, never dead_token (OPS-3)', async () => {
    const fixed = Date.now();
    nowMs = () => fixed;
    const p = provider();
    fake.control.quotaExceeded = true;
    const quota = await p.send(target(), msg());
    assert.equal(quota.status, 'retry');
    assert.match(reason(quota), /10034/);
    const untilMidnight = quota.status === 'retry' ? quota.retryAfterMs : undefined;
    assert.equal(untilMidnight, msUntilNextBeijingMidnight(fixed));
    assert.ok(untilMidnight! > 0 && untilMidnight! <= 86_400_000);
    fake.control.quotaExceeded = false;

    fake.control.failNext(1, { code: 10027 });
    const frequent = await p.send(target(), msg());
    assert.equal(frequent.status, 'retry');
    assert.equal(frequent.status === 'retry' ? frequent.retryAfterMs : undefined, 60_000);

    fake.control.failNext(1, { code: 10002, httpStatus: 503, retryAfterSec: 9 });
    const busy = await p.send(target(), msg());
    assert.equal(busy.status, 'retry');
    assert.equal(busy.status === 'retry' ? busy.retryAfterMs : undefined, 9000);
    assert.equal((await p.send(target(), msg())).status, 'delivered');
    assert.equal(fake.received.length, 1);
  });

  it("a target registered as another vendor's kind is config_error naming the credential, vendor and kind; nothing is sent", () =>
    refusesOtherRegistrations({
      provider: provider(), vendor, label: 'xiaomi', target: target(), message: () => msg(),
      requests: () => fake.received.length + fake.rejected.length,
    }));

  it('a wrong AppSecret or package is config_error after one request; the secret is never echoed', async () => {
    const wrong = `${SECRET}x`;
    const auth = await provider({ appSecret: wrong }).send(target(), msg());
    assert.equal(auth.status, 'config_error');
    assert.match(reason(auth), /21301/);
    assert.equal(fake.rejected.length, 1);
    assert.ok(!reason(auth).includes(wrong) && !JSON.stringify(logs).includes(wrong));

    const pkg = await provider({ packageName: 'com.example.other' }, 'mi2').send(target({ credential: 'mi2' }), msg());
    assert.equal(pkg.status, 'config_error');
    assert.match(reason(pkg), /22022/);
    assert.equal(fake.received.length, 0);
  });

  it('truncates the title below 50 and the description below 128 characters (PAY-3)', async () => {
    const fixed = Date.now();
    nowMs = () => fixed;
    const long = msg({ title: `${'Группа друзей '.repeat(8)}`, body: `${'🎉 party tonight at 8! '.repeat(20)}` });
    const preview = vendor.preview(target(), long, fixed, cred());
    assert.ok(preview.ok && preview.truncated);
    assert.equal((await provider().send(target(), long)).status, 'delivered', JSON.stringify(fake.rejected));
    const f = fake.received[0]!.fields;
    assert.ok(f.title!.length < 50 && f.title!.endsWith(ELLIPSIS), f.title);
    assert.ok(f.description!.length < 128 && f.description!.endsWith(ELLIPSIS), f.description);
    assert.ok(!/\uD83C$/.test(f.description!.slice(0, -1)), 'no split surrogate pair');
  });

  it('uses the region host by default (offline preview)', () => {
    const preview = vendor.preview(target({ credential: 'mi-global' }), msg(), Date.now(), { type: 'xiaomi', appSecret: SECRET, packageName: PACKAGE, region: 'global' });
    assert.ok(preview.ok);
    assert.equal((preview.request as { url: string }).url, 'https://api.xmpush.global.xiaomi.com/v3/message/regid');
  });

  it('the credential checks name the setting and never echo the secret (DEV-3)', () => {
    const base = { type: 'xiaomi', appSecret: SECRET, packageName: PACKAGE };
    assert.ok(Value.Check(vendor.credentialSchema, base));
    const cases: [unknown, RegExp][] = [
      [{ ...base, appSecret: `${SECRET},x` }, /^push\.credentials\.mi\.appSecret /],
      [{ ...base, region: 'us' }, /^push\.credentials\.mi\.region: /],
      [{ ...base, packageName: 'tidings' }, /^push\.credentials\.mi\.packageName: /],
      [{ ...base, endpoints: { authUrl: 'https://x' } }, /^push\.credentials\.mi\.endpoints\.authUrl: Unexpected property/],
      [{ ...base, endpoints: { pushUrl: 'http://127.0.0.1:1' } }, /^push\.credentials\.mi\.endpoints\.pushUrl must be an https/],
      [{ ...base, notifyType: 9 }, /^push\.credentials\.mi\.notifyType: /],
    ];
    for (const [config, expected] of cases) {
      assert.throws(() => vendor.checkCredential!('mi', config as XiaomiCredential), (err: unknown) => {
        assert.ok(err instanceof CredentialConfigError);
        assert.match(err.message, expected);
        assert.ok(!err.message.includes(SECRET));
        return true;
      });
    }
  });

  it('registers comma-free bounded tokens at priority 50 and refuses APNs fields (DEV-1)', () => {
    const [kind] = vendor.registrations;
    assert.equal(kind!.name, 'xiaomi');
    assert.equal(kind!.priority, 50);
    assert.ok(Value.Check(kind!.tokenSchema, TOKEN));
    assert.ok(!Value.Check(kind!.tokenSchema, `${TOKEN},${TOKEN}`));
    assert.ok(!Value.Check(kind!.tokenSchema, 'x'.repeat(4097)));
    assert.throws(() => kind!.options({ topic: 'com.example' }), RegistrationError);
  });

  it('classifies partial answers and the remaining codes (pure)', () => {
    const answer = (body: unknown, status = 200) => ({ status, headers: {}, text: JSON.stringify(body) });
    const c = (body: unknown, status = 200) => classifyXiaomiAnswer(answer(body, status), TOKEN, 0).outcome.status;
    assert.equal(c({ result: 'ok', code: 0, data: { id: 'x', bad_regids: `other,${TOKEN}` } }), 'dead_token');
    assert.equal(c({ result: 'ok', code: 0, data: { id: 'x', bad_regids: 'other' } }), 'delivered');
    assert.equal(c({ result: 'error', code: 10031 }), 'config_error');
    assert.equal(c({ result: 'error', code: '65009' }), 'rejected');
    assert.equal(c({ result: 'error', code: 99999 }), 'retry');
    assert.equal(c('gateway timeout', 504), 'retry');
    assert.equal(c('denied', 401), 'config_error');
  });

  it('nothing logged carries the secret or the registration id', () => {
    const text = JSON.stringify(logs);
    assert.ok(logs.length > 0);
    assert.ok(!text.includes(SECRET) && !text.includes(TOKEN));
  });
});
