/**
 * Child-process entry for `tidings load`: the wire-faithful fake APNs and FCM servers
 * (tools/fakes/*, HTTP/2 + TLS on 127.0.0.1) in their own process, so they never share an event
 * loop with the server or the simulated devices. Generates throw-away credentials (an ES256
 * token key for APNs; a service account for FCM, written to a fresh file per run because
 * firebase-admin caches credentials per file path) and prints one JSON line on stdout:
 *
 *   {"apns":{"host","port"},"fcm":{"host","port"},"ca","apnsKey","keyId","teamId","topic",
 *    "serviceAccountFile","controlUrl","pid"}
 *
 * A loopback HTTP control server reports what the fakes accepted, compacted to what the load
 * tool accounts for (the full bodies are dropped as soon as they are compacted):
 *   GET /pushes?from=N → {"total":T,"records":[{vendor,token,apnsId,messageId?,eventId?,callId?,type?,receiver?,receivedAt}]}
 *   GET /counts        → {"apns":{accepted,rejected,dropped},"fcm":{…},"rejectedReasons":{…}}
 * Exits on SIGTERM/SIGINT, when stdin closes or when its parent goes away.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeApns } from '../fakes/apns-server.ts';
import { startFakeFcm } from '../fakes/fcm-server.ts';
import { makeServiceAccount } from '../fakes/fcm-service-account.ts';
import type { PushRecord } from './push-source.ts';
import { stopWhenAsked } from '../lib/child-entry.ts';

const TOPIC = 'com.example.tidings.load';
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
const [apns, fcm] = await Promise.all([
  startFakeApns({
    environment: 'development', topic: TOPIC, record: true,
    tokenKeys: [{ keyId: KEY_ID, teamId: TEAM_ID, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
  }),
  startFakeFcm({ serviceAccounts: [{ clientEmail: account.clientEmail, projectId: account.projectId, publicKey: account.publicKey }], record: true }),
]);

const records: PushRecord[] = [];
const rejectedReasons: Record<string, number> = {};

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function compact(): void {
  for (const p of apns.received.splice(0)) {
    const body = (p.payload ?? {}) as Record<string, unknown>;
    const eventId = Number(body.eventId);
    records.push({
      vendor: 'apns', token: p.token, apnsId: p.apnsId.toLowerCase(),
      ...(str(body.messageId) ? { messageId: str(body.messageId)! } : {}),
      ...(Number.isFinite(eventId) ? { eventId } : {}),
      ...(str(body.callId) ? { callId: str(body.callId)! } : {}),
      ...(str(body.type) ? { type: str(body.type)! } : {}),
      ...(str(body.receiver) ? { receiver: str(body.receiver)! } : {}),
      receivedAt: p.receivedAt,
    });
  }
  for (const p of fcm.received.splice(0)) {
    const data = (p.message.data ?? {}) as Record<string, unknown>;
    const eventId = Number(data.eventId);
    records.push({
      vendor: 'fcm', token: String(p.message.token), apnsId: String(data.pushId ?? '').toLowerCase(),
      ...(str(data.messageId) ? { messageId: str(data.messageId)! } : {}),
      ...(Number.isFinite(eventId) ? { eventId } : {}),
      ...(str(data.callId) ? { callId: str(data.callId)! } : {}),
      ...(str(data.type) ? { type: str(data.type)! } : {}),
      ...(str(data.receiver) ? { receiver: str(data.receiver)! } : {}),
      receivedAt: p.receivedAt,
    });
  }
  for (const r of apns.rejected.splice(0)) rejectedReasons[`apns:${r.reason}`] = (rejectedReasons[`apns:${r.reason}`] ?? 0) + 1;
  for (const r of fcm.rejected.splice(0)) rejectedReasons[`fcm:${r.errorCode ?? r.httpStatus}`] = (rejectedReasons[`fcm:${r.errorCode ?? r.httpStatus}`] ?? 0) + 1;
  fcm.tokenGrants.length = 0;
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
    return reply(res, 200, { apns: apns.counts, fcm: fcm.counts, rejectedReasons });
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
  void Promise.all([apns.close(), fcm.close()]).finally(() => {
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
  serviceAccountFile, controlUrl: `http://127.0.0.1:${controlPort}`, pid: process.pid,
})}\n`);
