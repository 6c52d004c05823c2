// Real @parse/node-apn against the fake APNs (HTTP/2 + TLS on 127.0.0.1).
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ApnsProvider } from '../../push/vendors/apns/apns-provider.ts';
import { APNS_MAX_PAYLOAD_BYTES, APNS_VOIP_MAX_PAYLOAD_BYTES, buildApnsRequest } from '../../push/vendors/apns/apns-payload.ts';
import { ELLIPSIS, fitAlertText, jsonBytes } from '../../push/vendors/text-fit.ts';
import type { ApnsAuth as ApnsAuthConfig, ApnsCredential as ApnsCredentialConfig } from '../../push/vendors/apns/apns-credential.ts';
import type { PushMessage, PushTarget } from '../../push/vendors/contract.ts';
import { startFakeApns, type FakeApns } from '../../tools/fakes/apns-server.ts';
import { makeApnsClientCert, type ClientCert } from '../../tools/fakes/tls.ts';

const BUNDLE = 'com.example.tidings';
const KEY_ID = 'ABC123DEFG';
const TEAM_ID = 'TEAM123456';
const TOKEN = 'a1b2c3d4'.repeat(8);

function p8(): { key: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function msg(over: Partial<PushMessage> = {}): PushMessage {
  return { id: randomUUID(), purpose: 'message', kind: 'alert', priority: 'high', title: 'Alice', body: 'hello', data: {}, ...over };
}

/** A registered APNs target; `environment: undefined` leaves it out (the provider's default). */
function target(over: { registration?: string; token?: string; environment?: string | undefined; topic?: string } = {}): PushTarget {
  const { registration = 'apns', token = TOKEN, ...fields } = over;
  const environment = 'environment' in over ? fields.environment : 'development';
  return {
    registration, token, credential: 'ios',
    options: { ...(environment !== undefined ? { environment } : {}), ...(fields.topic !== undefined ? { topic: fields.topic } : {}) },
  };
}

describe('APNs provider (node-apn against fake APNs)', () => {
  const signing = p8();
  let dev: FakeApns;
  let prod: FakeApns;
  let clientCert: ClientCert;
  const providers: ApnsProvider[] = [];

  function provider(auth: ApnsAuthConfig = { kind: 'token', key: signing.key, keyId: KEY_ID, teamId: TEAM_ID }): ApnsProvider {
    const config: ApnsCredentialConfig = {
      type: 'apns',
      topic: BUNDLE,
      auth,
      endpoints: { development: { host: dev.host, port: dev.port }, production: { host: prod.host, port: prod.port } },
      ca: dev.ca,
    };
    const p = new ApnsProvider('ios', config, { requestTimeoutMs: 1500 });
    providers.push(p);
    return p;
  }

  before(async () => {
    clientCert = await makeApnsClientCert(BUNDLE);
    const tokenKeys = [{ keyId: KEY_ID, teamId: TEAM_ID, publicKey: signing.publicKey }];
    [dev, prod] = await Promise.all([
      startFakeApns({ environment: 'development', tokenKeys, certificateFingerprints: [clientCert.fingerprint256], topic: BUNDLE }),
      startFakeApns({ environment: 'production', tokenKeys, topic: BUNDLE }),
    ]);
  });
  beforeEach(() => {
    for (const f of [dev, prod]) {
      f.control.reset();
      f.received.length = 0;
      f.rejected.length = 0;
    }
  });
  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.close()));
  });
  after(async () => {
    await Promise.all([dev.close(), prod.close()]);
  });

  it('delivers a token-auth alert with the APNs headers and payload', async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    const m = msg({ badge: 3, sound: 'ping.caf', mutableContent: true, collapseId: 'chat-42', expiresAt, data: { chatId: '42', url: 'tidings://c/42' } });
    const outcome = await provider().send(target(), m);

    assert.deepEqual(outcome, { status: 'delivered', vendorId: m.id, httpStatus: 200 });
    assert.equal(dev.received.length, 1);
    const got = dev.received[0]!;
    assert.equal(got.path, `/3/device/${TOKEN}`);
    assert.equal(got.auth, 'token');
    assert.match(got.headers.authorization ?? '', /^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(got.headers['apns-push-type'], 'alert');
    assert.equal(got.headers['apns-priority'], '10');
    assert.equal(got.headers['apns-topic'], BUNDLE);
    assert.equal(got.headers['apns-id'], m.id);
    assert.equal(got.headers['apns-collapse-id'], 'chat-42');
    assert.equal(got.headers['apns-expiration'], String(expiresAt));
    assert.deepEqual(got.payload, {
      aps: { alert: { title: 'Alice', body: 'hello' }, badge: 3, sound: 'ping.caf', 'mutable-content': 1 },
      chatId: '42',
      url: 'tidings://c/42',
    });
    assert.equal(prod.received.length, 0);
  });

  it('sends normal-priority alerts with priority 5 and background pushes as content-available/5', async () => {
    const p = provider();
    assert.equal((await p.send(target(), msg({ priority: 'normal' }))).status, 'delivered');
    assert.equal((await p.send(target(), msg({ kind: 'background', priority: 'high', data: { sync: '1' } }))).status, 'delivered');
    assert.equal(dev.received[0]!.headers['apns-priority'], '5');
    const bg = dev.received[1]!;
    assert.equal(bg.headers['apns-push-type'], 'background');
    assert.equal(bg.headers['apns-priority'], '5');
    assert.deepEqual(bg.payload, { aps: { 'content-available': 1 }, sync: '1' });
  });

  it('delivers with certificate auth (PKCS#12 + passphrase, and PEM cert/key)', async () => {
    const viaPfx = await provider({ kind: 'certificate', pfx: clientCert.pfx.toString('base64'), passphrase: clientCert.passphrase }).send(target(), msg());
    const viaPem = await provider({ kind: 'certificate', cert: clientCert.cert, key: clientCert.key }).send(target(), msg());
    assert.equal(viaPfx.status, 'delivered');
    assert.equal(viaPem.status, 'delivered');
    assert.deepEqual(dev.received.map((r) => [r.auth, r.headers.authorization]), [['certificate', undefined], ['certificate', undefined]]);
  });

  it('maps a JWT signed with the wrong key (403 InvalidProviderToken) to config_error', async () => {
    const forged = p8();
    const outcome = await provider({ kind: 'token', key: forged.key, keyId: KEY_ID, teamId: TEAM_ID }).send(target(), msg());
    assert.equal(outcome.status, 'config_error');
    assert.equal(outcome.httpStatus, 403);
    assert.match('reason' in outcome ? outcome.reason : '', /^InvalidProviderToken/);
    assert.equal(dev.rejected[0]?.reason, 'InvalidProviderToken');
    assert.equal(dev.received.length, 0);
  });

  it('sends VoIP pushes to <bundle>.voip with push type voip and priority 10', async () => {
    const outcome = await provider().send(target({ registration: 'apns-voip' }), msg({ kind: 'voip', priority: 'normal', data: { callId: 'c1' } }));
    assert.equal(outcome.status, 'delivered');
    const got = dev.received[0]!;
    assert.equal(got.headers['apns-topic'], `${BUNDLE}.voip`);
    assert.equal(got.headers['apns-push-type'], 'voip');
    assert.equal(got.headers['apns-priority'], '10');
  });

  it('routes development and production targets to their own endpoints', async () => {
    const p = provider();
    assert.equal((await p.send(target({ environment: 'development' }), msg())).status, 'delivered');
    assert.equal((await p.send(target({ environment: 'production' }), msg())).status, 'delivered');
    assert.equal((await p.send(target({ environment: undefined }), msg())).status, 'delivered'); // default: production
    assert.equal(dev.received.length, 1);
    assert.equal(prod.received.length, 2);
  });

  it('maps 410 Unregistered and 400 BadDeviceToken to dead_token', async () => {
    const p = provider();
    dev.control.deadTokens.add(TOKEN);
    const gone = await p.send(target(), msg());
    assert.equal(gone.status, 'dead_token');
    assert.equal(gone.httpStatus, 410);
    dev.control.reset();
    dev.control.badTokens.add(TOKEN);
    const bad = await p.send(target(), msg());
    assert.equal(bad.status, 'dead_token');
    assert.equal(bad.httpStatus, 400);
    assert.match('reason' in bad ? bad.reason : '', /BadDeviceToken.*environment=development/);
  });

  it('maps 429 and 5xx to retry without node-apn re-sending on its own', async () => {
    const p = provider();
    for (const [status, reason] of [[429, 'TooManyRequests'], [500, 'InternalServerError'], [503, 'ServiceUnavailable']] as const) {
      dev.rejected.length = 0;
      dev.control.failNext(1, status, reason);
      const outcome = await p.send(target(), msg());
      assert.deepEqual(outcome, { status: 'retry', reason, httpStatus: status });
      assert.equal(dev.rejected.length, 1, `${status} must reach the fake exactly once`);
    }
    assert.equal((await p.send(target(), msg())).status, 'delivered');
  });

  it('maps a dropped connection to retry and recovers afterwards', async () => {
    const p = provider();
    dev.control.dropConnections = true;
    const outcome = await p.send(target(), msg());
    assert.equal(outcome.status, 'retry');
    assert.equal(outcome.httpStatus, undefined);
    assert.equal(dev.counts.dropped > 0, true);
    dev.control.dropConnections = false;
    assert.equal((await p.send(target(), msg())).status, 'delivered');
  });

  it('maps a topic mismatch to config_error', async () => {
    const outcome = await provider().send(target({ topic: 'com.someone.else' }), msg());
    assert.equal(outcome.status, 'config_error');
    assert.match('reason' in outcome ? outcome.reason : '', /^DeviceTokenNotForTopic/);
  });

  it('re-sends once after ExpiredProviderToken', async () => {
    dev.control.failNext(1, 403, 'ExpiredProviderToken');
    const outcome = await provider().send(target(), msg());
    assert.equal(outcome.status, 'delivered');
    assert.equal(dev.rejected.length, 1);
    assert.equal(dev.received.length, 1);
  });

  it('truncates an oversized body to fit 4096 bytes and still delivers', async () => {
    const body = 'Ünïcødé 😀 '.repeat(800);
    const outcome = await provider().send(target(), msg({ body, data: { chatId: '42' } }));
    assert.equal(outcome.status, 'delivered');
    const payload = dev.received[0]!.payload as { aps: { alert: { body: string; title: string } } };
    assert.ok(jsonBytes(payload) <= APNS_MAX_PAYLOAD_BYTES);
    assert.ok(jsonBytes(payload) > APNS_MAX_PAYLOAD_BYTES - 64, 'should use most of the budget');
    assert.ok(payload.aps.alert.body.endsWith(ELLIPSIS));
    assert.ok(body.startsWith(payload.aps.alert.body.slice(0, -1)));
    assert.equal(payload.aps.alert.title, 'Alice');
  });

  it('rejects with payload_too_large only when custom data alone is too big', async () => {
    const outcome = await provider().send(target(), msg({ data: { blob: 'x'.repeat(5000) } }));
    assert.deepEqual(outcome, { status: 'rejected', reason: 'payload_too_large' });
    assert.equal(dev.received.length + dev.rejected.length, 0);
  });

  it('never echoes key material in outcomes', async () => {
    const secret = 'SUPER-SECRET-NOT-A-PEM-KEY-0123456789';
    const outcome = await provider({ kind: 'token', key: secret, keyId: KEY_ID, teamId: TEAM_ID }).send(target(), msg());
    assert.equal(outcome.status, 'config_error');
    assert.ok(!JSON.stringify(outcome).includes(secret));
  });
});

describe('APNs payload fitting (pure)', () => {
  const t: PushTarget = { registration: 'apns', token: TOKEN, credential: 'ios', options: {} };

  it('cuts on grapheme boundaries and stays valid UTF-8', () => {
    const body = '👩‍👩‍👧‍👦🇯🇵漢字'.repeat(400);
    const built = buildApnsRequest(t, msg({ body }), BUNDLE);
    assert.ok(built.ok);
    const out = (built.request.payload.aps as { alert: { body: string } }).alert.body;
    assert.ok(built.request.truncated);
    assert.ok(built.request.bytes <= APNS_MAX_PAYLOAD_BYTES);
    assert.ok(out.endsWith(ELLIPSIS));
    const kept = out.slice(0, -1);
    assert.ok(body.startsWith(kept));
    const seg = (s: string): string[] => Array.from(new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s), (x) => x.segment);
    const keptGraphemes = seg(kept);
    assert.ok(keptGraphemes.length > 10);
    assert.deepEqual(keptGraphemes, seg(body).slice(0, keptGraphemes.length)); // no family/flag emoji split
    assert.equal(Buffer.from(out, 'utf8').toString('utf8'), out); // no lone surrogates
  });

  it('uses the 5120-byte budget for VoIP', () => {
    const body = 'x'.repeat(4500);
    const voip = buildApnsRequest({ ...t, registration: 'apns-voip' }, msg({ kind: 'voip', body }), BUNDLE);
    const alert = buildApnsRequest(t, msg({ body }), BUNDLE);
    assert.ok(voip.ok && alert.ok);
    assert.equal(voip.request.truncated, false);
    assert.ok(voip.request.bytes <= APNS_VOIP_MAX_PAYLOAD_BYTES);
    assert.equal(alert.request.truncated, true);
  });

  it('drops the body and shortens the title when the title alone is too long', () => {
    const fitted = fitAlertText({ title: 'T'.repeat(300), body: 'B'.repeat(300) }, (x) => jsonBytes(x), 120);
    assert.ok(fitted);
    assert.equal(fitted.text.body, undefined);
    assert.ok(fitted.text.title!.endsWith(ELLIPSIS));
    assert.ok(jsonBytes(fitted.text) <= 120);
  });

  it('returns null when the non-text part alone exceeds the limit', () => {
    assert.equal(fitAlertText({ body: 'hi' }, (x) => 200 + jsonBytes(x), 100), null);
  });
});
