/**
 * Child-process entry for benches: the wire-faithful fake APNs (tools/fakes/apns-server.ts,
 * HTTP/2 + TLS on 127.0.0.1) in its own process, so the fake and the client being measured
 * never share an event loop. Prints one JSON line on stdout:
 *
 *   {"host":"127.0.0.1","port":…,"ca":"-----BEGIN CERTIFICATE-----…","controlUrl":"http://127.0.0.1:…","pid":…}
 *
 *   node --import tsx tools/bench/lib/fake-apns-process.ts --config '{"publicKey":"-----BEGIN PUBLIC KEY-----…",
 *     "keyId":"KEY1234567","teamId":"TEAM123456","topic":"com.example.tidings","record":false}'
 *
 * `publicKey` is the public half (SPKI PEM) of the ES256 token key clients sign their JWTs with.
 * A small HTTP/1.1 control server on another loopback port reports what the fake saw:
 *   GET  /counts    → {"accepted":…,"rejected":…,"dropped":…}
 *   GET  /received  → {"received":[{"token":…,"receivedAt":<Date.now() ms>}],"rejected":[{"token":…,"status":…,"reason":…}]}
 *                     (only filled with "record": true)
 *   POST /clear     → forgets recorded pushes and zeroes the counts
 * Exits on SIGTERM/SIGINT or when stdin closes (the parent went away).
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { startFakeApns, type FakeApnsEnvironment } from '../../fakes/apns-server.ts';
import { stopWhenAsked } from '../../lib/child-entry.ts';

interface FakeApnsProcessConfig {
  publicKey: string;
  keyId: string;
  teamId: string;
  topic?: string;
  environment?: FakeApnsEnvironment;
  record?: boolean;
  latencyMs?: number;
}

const { values } = parseArgs({ options: { config: { type: 'string', default: '{}' } }, strict: true });
const config = JSON.parse(values.config) as FakeApnsProcessConfig;
if (typeof config.publicKey !== 'string' || typeof config.keyId !== 'string' || typeof config.teamId !== 'string') {
  throw new Error('fake-apns-process: --config needs publicKey (SPKI PEM), keyId and teamId');
}

const fake = await startFakeApns({
  environment: config.environment ?? 'development',
  tokenKeys: [{ keyId: config.keyId, teamId: config.teamId, publicKey: config.publicKey }],
  ...(config.topic !== undefined ? { topic: config.topic } : {}),
  ...(config.latencyMs !== undefined ? { latencyMs: config.latencyMs } : {}),
  record: config.record ?? false,
});

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const control = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/counts') return reply(res, 200, fake.counts);
  if (req.method === 'GET' && path === '/received') {
    return reply(res, 200, {
      received: fake.received.map((p) => ({ token: p.token, receivedAt: p.receivedAt })),
      rejected: fake.rejected.map((p) => ({ token: p.token ?? null, status: p.status, reason: p.reason })),
    });
  }
  if (req.method === 'POST' && path === '/clear') {
    fake.received.length = 0;
    fake.rejected.length = 0;
    fake.counts.accepted = 0;
    fake.counts.rejected = 0;
    fake.counts.dropped = 0;
    return reply(res, 200, { ok: true });
  }
  return reply(res, 404, { error: 'not found' });
});
await new Promise<void>((resolve, reject) => {
  control.once('error', reject);
  control.listen(0, '127.0.0.1', () => resolve());
});
const controlAddress = control.address();
const controlPort = typeof controlAddress === 'object' && controlAddress ? controlAddress.port : 0;

stopWhenAsked(() => {
  setTimeout(() => process.exit(0), 2000).unref();
  control.closeAllConnections();
  control.close();
  // A normal exit, so `--cpu-prof` writes its profile.
  void fake.close().finally(() => process.exit(0));
});

process.stdout.write(`${JSON.stringify({
  host: fake.host, port: fake.port, ca: fake.ca, controlUrl: `http://127.0.0.1:${controlPort}`, pid: process.pid,
})}\n`);
