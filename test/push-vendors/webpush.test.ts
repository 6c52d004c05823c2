// The Web Push provider (real web-push) against the fake push service over a real HTTPS
// socket; the fake verifies VAPID and decrypts, so a pass means a browser could read the push.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import webpush from 'web-push';
import { CredentialConfigError, RegistrationError, type PushMessage, type PushTarget, type VendorDeps, type VendorStateStore } from '../../push/vendors/contract.ts';
import { webPushVendor, type WebPushCredential } from '../../push/vendors/webpush/index.ts';
import { WEBPUSH_MAX_PLAINTEXT_BYTES } from '../../push/vendors/webpush/webpush-facts.ts';
import { webPushTopic } from '../../push/vendors/webpush/webpush-payload.ts';
import { ELLIPSIS } from '../../push/vendors/text-fit.ts';
import { encryptAes128gcm, startFakeWebPush, type FakeSubscription, type FakeWebPush } from '../../tools/fakes/webpush-server.ts';
import { refusesOtherRegistrations } from '../helpers/vendor-suite.ts';

const VAPID = webpush.generateVAPIDKeys();
const OTHER_VAPID = webpush.generateVAPIDKeys();
const SUBJECT = 'mailto:ops@tidings.example';

const state: VendorStateStore = { get: async () => undefined, set: async () => undefined };
const logs: Record<string, unknown>[] = [];
const deps = (): VendorDeps => ({ log: (e) => logs.push(e), state, now: Date.now });
const msg = (over: Partial<PushMessage> = {}): PushMessage => ({
  id: randomUUID(), purpose: 'message', kind: 'alert', priority: 'high', title: 'Alice', body: 'hello', badge: 2, data: { conversation: 'c42' }, ...over,
});
const [kind] = webPushVendor.registrations;

describe('Web Push provider against the fake push service', () => {
  let fake: FakeWebPush;
  const providers: { close(): Promise<void> }[] = [];
  const credential = (over: Partial<WebPushCredential> = {}): WebPushCredential => ({
    type: 'webpush', subject: SUBJECT, publicKey: VAPID.publicKey, privateKey: VAPID.privateKey, endpoints: { ca: fake.ca }, ...over,
  });
  const provider = (over: Partial<WebPushCredential> = {}) => {
    const p = webPushVendor.create('web', credential(over), deps());
    providers.push(p);
    return p;
  };
  const subscribe = (): FakeSubscription => fake.newSubscription({ applicationServerKey: VAPID.publicKey });
  const target = (subscription: unknown): PushTarget => ({ registration: 'webpush', token: kind!.storedToken(subscription), credential: 'web', options: {} });

  before(async () => {
    fake = await startFakeWebPush();
  });
  beforeEach(() => {
    fake.control.reset();
    fake.received.length = 0;
    fake.rejected.length = 0;
  });
  after(async () => {
    await Promise.all(providers.map((p) => p.close()));
    await fake.close();
  });

  it('PAY-3: delivered; the decrypted plaintext equals the payload preview() showed, headers too', async () => {
    const sub = subscribe();
    const now = Date.now();
    const m = msg({ collapseId: 'chat-c42', expiresAt: Math.floor(now / 1000) + 600 });
    const outcome = await provider().send(target(sub), m);

    assert.equal(fake.received.length, 1);
    const got = fake.received[0]!;
    assert.deepEqual(outcome, { status: 'delivered', vendorId: got.location, httpStatus: 201 });

    const preview = webPushVendor.preview(target(sub), m, now);
    assert.ok(preview.ok);
    const request = preview.request as { method: string; endpoint: string; headers: Record<string, string>; payload: unknown; encryptedBytes: number };
    assert.deepEqual(JSON.parse(got.plaintext), request.payload);
    assert.deepEqual(request.payload, { title: 'Alice', body: 'hello', badge: 2, data: { conversation: 'c42' }, purpose: 'message', kind: 'alert', id: m.id });
    assert.equal(request.method, 'POST');
    assert.equal(request.endpoint, sub.endpoint);
    assert.equal(request.encryptedBytes, got.bodyBytes);
    // Every header the service got is the one previewed, the VAPID Authorization aside (redacted there).
    assert.match(request.headers.Authorization!, /^vapid t=\[redacted\], k=/);
    for (const [name, value] of Object.entries(request.headers)) {
      if (name === 'Authorization') continue;
      const sent = String(got.headers[name.toLowerCase()]);
      if (name === 'TTL') assert.ok(Math.abs(Number(sent) - Number(value)) <= 1, `TTL ${sent} vs ${value}`);
      else assert.equal(sent, value, name);
    }
    assert.equal(got.headers['content-encoding'], 'aes128gcm');
    assert.equal(got.urgency, 'high');
    assert.equal(got.topic, webPushTopic('chat-c42'));
    assert.ok(got.ttl >= 598 && got.ttl <= 600);
    // The VAPID JWT the service verified: our key, this origin, a sub, at most 24 h.
    assert.equal(got.vapid.publicKey, VAPID.publicKey);
    assert.equal(got.vapid.claims.aud, fake.origin);
    assert.equal(got.vapid.claims.sub, SUBJECT);
  });

  it('a body encrypted independently of web-push is read by the fake as sent', async () => {
    const sub = subscribe();
    const details = webpush.generateRequestDetails(sub, 'independent', {
      vapidDetails: { subject: SUBJECT, publicKey: VAPID.publicKey, privateKey: VAPID.privateKey }, TTL: 60, contentEncoding: 'aes128gcm',
    });
    const body = encryptAes128gcm(Buffer.from('{"via":"our own encryptor"}'), sub);
    const res = await fetchLike(sub.endpoint, { ...details.headers, 'Content-Length': String(body.length) }, body, fake.ca);
    assert.equal(res, 201);
    assert.equal(fake.received.at(-1)!.plaintext, '{"via":"our own encryptor"}');
    // …and one flipped bit fails the AEAD: the fake really decrypts.
    const tampered = Buffer.from(body);
    tampered[tampered.length - 1]! ^= 1;
    assert.equal(await fetchLike(sub.endpoint, { ...details.headers, 'Content-Length': String(tampered.length) }, tampered, fake.ca), 400);
    assert.match(fake.rejected.at(-1)!.message, /does not decrypt/);
  });

  it('DEV-7: 404 and 410 from the push service are dead_token', async () => {
    const gone = subscribe();
    fake.control.unsubscribed.add(fake.idOf(gone));
    const g = await provider().send(target(gone), msg());
    assert.equal(g.status, 'dead_token');
    assert.equal(g.status === 'dead_token' ? g.httpStatus : 0, 410);
    const missing = subscribe();
    fake.control.notFound.add(fake.idOf(missing));
    const n = await provider().send(target(missing), msg());
    assert.equal(n.status, 'dead_token');
    assert.equal(n.status === 'dead_token' ? n.httpStatus : 0, 404);
  });

  it('413 is rejected', async () => {
    fake.control.failNext(1, 413);
    const outcome = await provider().send(target(subscribe()), msg());
    assert.equal(outcome.status, 'rejected');
  });

  it('OPS-3: 429 is a retry with Retry-After as retryAfterMs; 503 is a retry', async () => {
    fake.control.failNext(1, 429, { retryAfterSec: 120 });
    const limited = await provider().send(target(subscribe()), msg());
    assert.equal(limited.status, 'retry');
    assert.equal(limited.status === 'retry' ? limited.retryAfterMs : 0, 120_000);
    assert.equal(limited.status === 'retry' ? limited.httpStatus : 0, 429);
    fake.control.failNext(1, 503);
    assert.equal((await provider().send(target(subscribe()), msg())).status, 'retry');
  });

  it("a target registered as another vendor's kind is config_error naming the credential, vendor and kind; nothing is sent", () =>
    refusesOtherRegistrations({
      provider: provider(), vendor: webPushVendor, label: 'Web Push', target: target(subscribe()), message: () => msg(),
      requests: () => fake.received.length + fake.rejected.length,
    }));

  it('a VAPID key other than the subscription\'s is config_error (403); the token is kept', async () => {
    const outcome = await provider({ publicKey: OTHER_VAPID.publicKey, privateKey: OTHER_VAPID.privateKey }).send(target(subscribe()), msg());
    assert.equal(outcome.status, 'config_error');
    assert.equal(outcome.status === 'config_error' ? outcome.httpStatus : 0, 403);
    assert.ok(!JSON.stringify(outcome).includes(OTHER_VAPID.privateKey));
  });

  it('the fake refuses a VAPID JWT for another audience, an expired one, one signed by another key (401)', async () => {
    const sub = subscribe();
    const body = encryptAes128gcm(Buffer.from('{}'), sub);
    const post = (authorization: string) => fetchLike(sub.endpoint, {
      Authorization: authorization, TTL: '60', 'Content-Encoding': 'aes128gcm', 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length),
    }, body, fake.ca);
    const vapid = (audience: string, exp?: number, keys = VAPID) => webpush.getVapidHeaders(audience, SUBJECT, keys.publicKey, keys.privateKey, 'aes128gcm', exp).Authorization;
    assert.equal(await post(vapid('https://push.other.example')), 401);
    assert.match(fake.rejected.at(-1)!.message, /aud/);
    assert.equal(await post(vapid(fake.origin, Math.floor(Date.now() / 1000) - 60)), 401);
    assert.match(fake.rejected.at(-1)!.message, /expired/);
    const forged = vapid(fake.origin, undefined, OTHER_VAPID).replace(/k=.*$/, `k=${VAPID.publicKey}`);
    assert.equal(await post(forged), 401);
    assert.match(fake.rejected.at(-1)!.message, /signature/);
    assert.equal(await post(vapid(fake.origin)), 201);
    // What a 401 means for the provider: the credential, not the token.
    fake.control.failNext(1, 401);
    assert.equal((await provider().send(target(subscribe()), msg())).status, 'config_error');
  });

  it('an unreachable push service is a retry', async () => {
    const sub = { ...subscribe(), endpoint: 'https://127.0.0.1:1/push/nowhere' };
    assert.equal((await provider().send(target(sub), msg())).status, 'retry');
  });

  it('urgency: high for calls, normal for normal priority, very-low for badge updates, low for other background', async () => {
    const sub = subscribe();
    const p = provider();
    await p.send(target(sub), msg({ purpose: 'call_ring', kind: 'voip', priority: 'high' }));
    await p.send(target(sub), msg({ priority: 'normal' }));
    await p.send(target(sub), msg({ purpose: 'badge_update', kind: 'background', priority: 'normal', title: undefined, body: undefined }));
    await p.send(target(sub), msg({ purpose: 'call_over', kind: 'background', priority: 'normal' }));
    assert.deepEqual(fake.received.map((r) => r.urgency), ['high', 'normal', 'very-low', 'low']);
    assert.deepEqual(JSON.parse(fake.received[2]!.plaintext), { badge: 2, data: { conversation: 'c42' }, purpose: 'badge_update', kind: 'background', id: JSON.parse(fake.received[2]!.plaintext).id });
  });

  it('the same collapse id gives the same Topic, so the service replaces the pending push', async () => {
    const sub = subscribe();
    const p = provider();
    await p.send(target(sub), msg({ collapseId: 'chat-1' }));
    await p.send(target(sub), msg({ collapseId: 'chat-1' }));
    await p.send(target(sub), msg({ collapseId: 'a collapse id with spaces and ünïcode that is much longer than 32' }));
    assert.deepEqual(fake.received.map((r) => r.replacedPrevious), [false, true, false]);
    assert.ok(fake.received.every((r) => r.topic !== undefined && /^[A-Za-z0-9_-]{1,32}$/.test(r.topic)));
  });

  it('PAY-3: text is cut so the plaintext fits 3993 bytes; data too big is rejected', async () => {
    const sub = subscribe();
    const outcome = await provider().send(target(sub), msg({ body: 'Grüße 👋 '.repeat(600) }));
    assert.equal(outcome.status, 'delivered');
    const got = fake.received[0]!;
    assert.ok(Buffer.byteLength(got.plaintext) <= WEBPUSH_MAX_PLAINTEXT_BYTES && Buffer.byteLength(got.plaintext) > WEBPUSH_MAX_PLAINTEXT_BYTES - 64);
    assert.ok(got.bodyBytes <= 4096);
    assert.ok((JSON.parse(got.plaintext) as { body: string }).body.endsWith(ELLIPSIS));
    const big = await provider().send(target(sub), msg({ data: { blob: 'x'.repeat(4000) } }));
    assert.deepEqual(big, { status: 'rejected', reason: 'payload_too_large' });
    assert.equal(webPushVendor.preview(target(sub), msg({ data: { blob: 'x'.repeat(4000) } }), Date.now()).ok, false);
    assert.equal(fake.received.length, 1);
  });

  it('tokens: an https subscription object, stored as canonical JSON (one subscription, one string)', () => {
    const sub = subscribe();
    assert.ok(Value.Check(kind!.tokenSchema, sub));
    const reordered = { keys: { auth: sub.keys.auth, p256dh: sub.keys.p256dh }, endpoint: sub.endpoint };
    const padded = { endpoint: sub.endpoint, expirationTime: 1_900_000_000_000, keys: { p256dh: `${sub.keys.p256dh}=`, auth: `${sub.keys.auth}==` } };
    assert.equal(kind!.storedToken(reordered), kind!.storedToken(sub));
    assert.equal(kind!.storedToken(padded), kind!.storedToken(sub));
    assert.equal(kind!.storedToken(sub), JSON.stringify({ endpoint: sub.endpoint, keys: { auth: sub.keys.auth, p256dh: sub.keys.p256dh } }));
    assert.ok(!Value.Check(kind!.tokenSchema, { ...sub, endpoint: 'http://127.0.0.1/push/x' }));
    assert.ok(!Value.Check(kind!.tokenSchema, { ...sub, endpoint: `https://push.example/${'x'.repeat(3000)}` }));
    assert.ok(!Value.Check(kind!.tokenSchema, { ...sub, extra: 'x' }));
    assert.throws(() => kind!.storedToken({ ...sub, keys: { ...sub.keys, p256dh: 'A'.repeat(87) } }), RegistrationError);
    assert.equal(kind!.priority, 40);
    for (const p of ['message', 'call_ring', 'missed_call', 'call_over', 'badge_update', 'test'] as const) assert.ok(kind!.carries(p));
    assert.throws(() => kind!.options({ environment: 'production' }), RegistrationError);
  });

  it('an unparseable stored token is dead_token without a request', async () => {
    const outcome = await provider().send({ registration: 'webpush', token: '{"endpoint":"https://x"}', credential: 'web', options: {} }, msg());
    assert.equal(outcome.status, 'dead_token');
    assert.equal(fake.received.length + fake.rejected.length, 0);
  });

  it('checkCredential and the schema name the setting and never echo the private key', () => {
    assert.doesNotThrow(() => webPushVendor.checkCredential!('web', credential()));
    const mismatched = credential({ privateKey: OTHER_VAPID.privateKey });
    assert.throws(() => webPushVendor.checkCredential!('web', mismatched), (err: unknown) =>
      err instanceof CredentialConfigError && /push\.credentials\.web\.publicKey/.test(err.message) && !err.message.includes(OTHER_VAPID.privateKey));
    assert.throws(() => webPushVendor.checkCredential!('web', credential({ privateKey: 'AAAA' })), (err: unknown) =>
      err instanceof CredentialConfigError && /privateKey/.test(err.message) && !err.message.includes('AAAA'));
    assert.throws(() => webPushVendor.checkCredential!('web', credential({ subject: 'https://localhost/contact' })), /subject/);
    const errors = [...Value.Errors(webPushVendor.credentialSchema, { ...credential(), subject: 'ops@example.com', privateKey: `${VAPID.privateKey}!` })];
    assert.ok(errors.some((e) => e.path === '/subject') && errors.some((e) => e.path === '/privateKey'));
    assert.ok(errors.every((e) => !e.message.includes(VAPID.privateKey)));
  });

  it('logs never carry the VAPID private key, a JWT or a subscription secret', async () => {
    logs.length = 0;
    const sub = subscribe();
    await provider().send(target(sub), msg());
    fake.control.unsubscribed.add(fake.idOf(sub));
    await provider().send(target(sub), msg());
    const text = JSON.stringify(logs);
    assert.ok(logs.length >= 2);
    assert.ok(!text.includes(VAPID.privateKey) && !text.includes('eyJ') && !text.includes(sub.keys.auth) && !text.includes(fake.idOf(sub)));
  });
});

/** POST a raw body to the fake (trusting its CA), resolve the status. */
async function fetchLike(url: string, headers: Record<string, string | number>, body: Buffer, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', headers, ca }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}
