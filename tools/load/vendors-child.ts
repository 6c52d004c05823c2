/**
 * Child-process entry for `tidings load`: the wire-faithful fake vendors (tools/fakes/*: APNs
 * and FCM over HTTP/2, Huawei, Honor, Xiaomi, OPPO, vivo and a Web Push service over HTTPS, all
 * on 127.0.0.1) in their own process, so they never share an event loop with the server or the
 * simulated devices. Generates throw-away credentials (an ES256 token key for APNs; a service
 * account for FCM, written to a fresh file per run because firebase-admin caches credentials per
 * file path; app secrets and a VAPID key pair for the others) and prints one JSON line on stdout:
 *
 *   {"apns":{"host","port"},"fcm":{"host","port"},"ca","apnsKey","keyId","teamId","topic",
 *    "serviceAccountFile","oemCredentials":{<name>:{type,…}},"controlUrl","pid"}
 *
 * A loopback HTTP control server reports what the fakes accepted, compacted to what the load
 * tool accounts for (the full bodies are dropped as soon as they are compacted):
 *   GET /pushes?from=N → {"total":T,"records":[{vendor,token,apnsId,messageId?,eventId?,callId?,type?,receiver?,receivedAt}]}
 *     `apnsId` is the per-job idempotency key each vendor carries: the apns-id header, data.pushId
 *     (FCM, Huawei, Honor, Xiaomi), the notification's app_message_id (OPPO), requestId (vivo),
 *     the decrypted payload's id (Web Push). `token` is the device token (Web Push: the
 *     subscription id at the fake).
 *   GET /counts        → {"apns":{accepted,rejected,dropped},"fcm":{…},"huawei":{…},…,"rejectedReasons":{…}}
 *   GET /subscriptions?n=N → {"subscriptions":[…]}: N fresh browser subscriptions (for the VAPID key)
 * `--count-only` (tools/bench/push.ts): the fakes keep no bodies and /pushes stays empty; only
 * /counts moves, so the fake's own cost stays the same for every client measured against it.
 * Exits on SIGTERM/SIGINT, when stdin closes or when its parent goes away.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApns } from '../fakes/apns-server.ts';
import { startFakeFcm } from '../fakes/fcm-server.ts';
import { makeServiceAccount } from '../fakes/fcm-service-account.ts';
import { startHonorFake } from '../fakes/honor-server.ts';
import { startHuaweiFake } from '../fakes/huawei-server.ts';
import { startFakeOppo } from '../fakes/oppo-server.ts';
import { startFakeVivo } from '../fakes/vivo-server.ts';
import { startFakeWebPush } from '../fakes/webpush-server.ts';
import { startXiaomiFake } from '../fakes/xiaomi-server.ts';
import { objectOf as parsed, type PushRecord } from './push-source.ts';
import { stopWhenAsked } from '../lib/child-entry.ts';

const TOPIC = 'com.example.tidings.load';
const countOnly = process.argv.includes('--count-only');
const KEY_ID = 'LOADKEY123';
const TEAM_ID = 'LOADTEAM12';

const dir = mkdtempSync(join(tmpdir(), 'tidings-load-vendors-'));
const cleanup = () => rmSync(dir, { recursive: true, force: true });

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const account = await makeServiceAccount('tidings-load');
const serviceAccountFile = join(dir, 'service-account.json');
writeFileSync(serviceAccountFile, JSON.stringify(account.json), { mode: 0o600 });

// record: true keeps bodies only until the next compaction (every 200 ms), which is what lets us
// report per-push message ids; the fakes' record:false mode only counts.
const secret = () => randomBytes(18).toString('base64url');
const HUAWEI = { appId: '101000001', appSecret: secret() };
const HONOR = { appId: '104000001', clientId: 'load-honor-client', clientSecret: secret() };
const XIAOMI = { appSecret: secret(), packageName: 'com.example.tidings.load' };
const OPPO = { appKey: 'load-oppo-key', masterSecret: secret() };
const VIVO = { appId: 10001, appKey: 'load-vivo-key', appSecret: secret() };
const vapid = (() => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pub = pair.publicKey.export({ format: 'jwk' });
  return {
    publicKey: Buffer.concat([Buffer.from([4]), Buffer.from(pub.x!, 'base64url'), Buffer.from(pub.y!, 'base64url')]).toString('base64url'),
    privateKey: pair.privateKey.export({ format: 'jwk' }).d!,
  };
})();

const [apns, fcm, huawei, honor, xiaomi, oppo, vivo, webpush] = await Promise.all([
  startFakeApns({
    environment: 'development', topic: TOPIC, record: !countOnly,
    tokenKeys: [{ keyId: KEY_ID, teamId: TEAM_ID, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
  }),
  startFakeFcm({ serviceAccounts: [{ clientEmail: account.clientEmail, projectId: account.projectId, publicKey: account.publicKey }], record: !countOnly }),
  startHuaweiFake({ apps: [HUAWEI], record: !countOnly }),
  startHonorFake({ apps: [HONOR], record: !countOnly }),
  startXiaomiFake({ apps: [{ appSecret: XIAOMI.appSecret, packageNames: [XIAOMI.packageName] }], record: !countOnly }),
  startFakeOppo(OPPO),
  // A load run authenticates once per credential; the default daily cap is far above that.
  startFakeVivo(VIVO),
  startFakeWebPush(),
]);

/** The credentials of the vendors beyond APNs/FCM, as `push.credentials` entries (names = registration kinds). */
const oemCredentials = {
  huawei: { type: 'huawei', ...HUAWEI, channelId: 'messages', endpoints: { authUrl: huawei.authUrl, pushUrl: huawei.url, ca: huawei.ca } },
  honor: { type: 'honor', ...HONOR, channelId: 'messages', endpoints: { authUrl: honor.authUrl, pushUrl: honor.url, ca: honor.ca } },
  xiaomi: { type: 'xiaomi', ...XIAOMI, channelId: 'messages', endpoints: { pushUrl: xiaomi.url, ca: xiaomi.ca } },
  oppo: { type: 'oppo', ...OPPO, channelId: 'im_messages', endpoints: { authUrl: oppo.authUrl, pushUrl: oppo.pushUrl, ca: oppo.ca } },
  vivo: { type: 'vivo', ...VIVO, endpoints: { authUrl: vivo.authUrl, pushUrl: vivo.pushUrl, ca: vivo.ca } },
  webpush: { type: 'webpush', subject: 'mailto:load@example.com', ...vapid, endpoints: { ca: webpush.ca } },
};

const records: PushRecord[] = [];
let webPushAccepted = 0;
const rejectedReasons: Record<string, number> = {};

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** One accepted push: the custom data our server put in it is where the ids are, on every vendor. */
function record(vendor: PushRecord['vendor'], token: string, key: string, data: Record<string, unknown>, receivedAt: number): PushRecord {
  const eventId = Number(data.eventId);
  return {
    vendor, token, apnsId: key.toLowerCase(),
    ...(str(data.messageId) ? { messageId: str(data.messageId)! } : {}),
    ...(Number.isFinite(eventId) ? { eventId } : {}),
    ...(str(data.callId) ? { callId: str(data.callId)! } : {}),
    ...(str(data.type) ? { type: str(data.type)! } : {}),
    ...(str(data.receiver) ? { receiver: str(data.receiver)! } : {}),
    receivedAt,
  };
}
const bump = (key: string) => { rejectedReasons[key] = (rejectedReasons[key] ?? 0) + 1; };

function compact(): void {
  if (countOnly) {
    // OPPO, vivo and the Web Push service always keep what they received: drop it unread.
    oppo.received.length = vivo.received.length = oppo.rejected.length = vivo.rejected.length = webpush.rejected.length = 0;
    webPushAccepted += webpush.received.length;
    webpush.received.length = 0;
    huawei.tokenRequests.length = honor.tokenRequests.length = fcm.tokenGrants.length = 0;
    return;
  }
  for (const p of apns.received.splice(0)) records.push(record('apns', p.token, p.apnsId, (p.payload ?? {}) as Record<string, unknown>, p.receivedAt));
  for (const p of fcm.received.splice(0)) {
    const data = (p.message.data ?? {}) as Record<string, unknown>;
    records.push(record('fcm', String(p.message.token), String(data.pushId ?? ''), data, p.receivedAt));
  }
  for (const p of huawei.received.splice(0)) {
    const data = parsed(p.message.data);
    records.push(record('huawei', String((p.message.token as string[])[0]), String(data.pushId ?? ''), data, p.receivedAt));
  }
  for (const p of honor.received.splice(0)) {
    if (p.expired.length > 0) continue; // accepted, but Honor says the token is gone: no device shows it
    const data = parsed(p.body.data);
    records.push(record('honor', String((p.body.token as string[])[0]), String(data.pushId ?? ''), data, p.receivedAt));
  }
  for (const p of xiaomi.received.splice(0)) {
    const data = parsed(p.fields.payload);
    records.push(record('xiaomi', String(p.fields.registration_id), String(data.pushId ?? ''), data, p.receivedAt));
  }
  for (const p of oppo.received.splice(0)) {
    const n = p.message.notification as { app_message_id: string; action_parameters?: string };
    records.push(record('oppo', String(p.message.target_value), n.app_message_id, parsed(n.action_parameters), p.receivedAt));
  }
  for (const p of vivo.received.splice(0)) records.push(record('vivo', String(p.body.regId), String(p.body.requestId), p.body.clientCustomMap ?? {}, p.receivedAt));
  webPushAccepted += webpush.received.length;
  for (const p of webpush.received.splice(0)) {
    const payload = parsed(p.plaintext);
    records.push(record('webpush', p.subscriptionId, String(payload.id ?? ''), (payload.data ?? {}) as Record<string, unknown>, p.receivedAt));
  }
  for (const r of apns.rejected.splice(0)) bump(`apns:${r.reason}`);
  for (const r of fcm.rejected.splice(0)) bump(`fcm:${r.errorCode ?? r.httpStatus}`);
  for (const r of huawei.rejected.splice(0)) bump(`huawei:${r.code ?? r.httpStatus}`);
  for (const r of honor.rejected.splice(0)) bump(`honor:${r.code ?? r.httpStatus}`);
  for (const r of xiaomi.rejected.splice(0)) bump(`xiaomi:${r.code ?? r.httpStatus}`);
  for (const r of oppo.rejected.splice(0)) bump(`oppo:${r.code}`);
  for (const r of vivo.rejected.splice(0)) bump(`vivo:${r.result}`);
  for (const r of webpush.rejected.splice(0)) bump(`webpush:${r.httpStatus}`);
  fcm.tokenGrants.length = 0;
  huawei.tokenRequests.length = 0;
  honor.tokenRequests.length = 0;
}
setInterval(compact, 200).unref();

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const control = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/pushes') {
    compact();
    const from = Math.max(0, Number(url.searchParams.get('from') ?? 0) || 0);
    return reply(res, 200, { total: records.length, records: records.slice(from) });
  }
  if (req.method === 'GET' && url.pathname === '/counts') {
    compact();
    return reply(res, 200, {
      apns: apns.counts, fcm: fcm.counts, huawei: huawei.counts, honor: honor.counts, xiaomi: xiaomi.counts, oppo: oppo.counts, vivo: vivo.counts,
      webpush: { accepted: webPushAccepted }, rejectedReasons,
    });
  }
  if (req.method === 'GET' && url.pathname === '/subscriptions') {
    const n = Math.min(20_000, Math.max(0, Number(url.searchParams.get('n') ?? 0) || 0));
    return reply(res, 200, { subscriptions: Array.from({ length: n }, () => webpush.newSubscription({ applicationServerKey: vapid.publicKey })) });
  }
  return reply(res, 404, { error: 'not found' });
});
await new Promise<void>((resolve, reject) => {
  control.once('error', reject);
  control.listen(0, '127.0.0.1', () => resolve());
});
const address = control.address();
const controlPort = typeof address === 'object' && address ? address.port : 0;

const shutdown = stopWhenAsked(() => {
  setTimeout(() => {
    cleanup();
    process.exit(0);
  }, 2000).unref();
  control.close();
  void Promise.all([apns, fcm, huawei, honor, xiaomi, oppo, vivo, webpush].map((fake) => fake.close())).finally(() => {
    cleanup();
    process.exit(0);
  });
});
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 1000).unref();

process.stdout.write(`${JSON.stringify({
  apns: { host: apns.host, port: apns.port }, fcm: { host: fcm.host, port: fcm.port }, ca: apns.ca,
  apnsKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), keyId: KEY_ID, teamId: TEAM_ID, topic: TOPIC,
  serviceAccountFile, oemCredentials, controlUrl: `http://127.0.0.1:${controlPort}`, pid: process.pid,
})}\n`);
