import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { TestClient } from '../helpers/client.ts';
import { ensureClientBuilt } from '../client/build.ts';

// server/http-static.ts serves the examples and the built SDK; server/features/dev-admin.ts adds
// the token and device routes the pages use. AUTH-3: the admin routes need the admin secret.
let server: TestServer;
before(async () => {
  ensureClientBuilt();
  server = await startTestServer();
});
after(() => server.stop());

/** A raw request: fetch() would normalise `..` away before it reaches the server. */
function raw(method: string, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  const { hostname, port } = new URL(server.httpUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the demo, the console and the SDK are served with their content types', async () => {
  const cases: Array<[string, RegExp, RegExp]> = [
    ['/demo/', /^text\/html/, /tidings demo/],
    ['/demo/app.js', /^text\/javascript/, /from '\/sdk\/index\.js'/],
    ['/demo/style.css', /^text\/css/, /--accent/],
    ['/console/', /^text\/html/, /push console/],
    ['/console/app.js', /^text\/javascript/, /admin\/trace/],
    ['/sdk/index.js', /^text\/javascript/, /TidingsClient/],
    ['/sdk/client.js.map', /^application\/json/, /"sources"/],
  ];
  for (const [path, type, body] of cases) {
    const res = await raw('GET', path);
    assert.equal(res.status, 200, path);
    assert.match(res.type ?? '', type, path);
    assert.match(res.body, body, path);
  }
  const redirect = await raw('GET', '/demo');
  assert.equal(redirect.status, 301);
  assert.equal((await fetch(`${server.httpUrl}/demo/`)).headers.get('content-security-policy')?.includes("connect-src 'self'"), true);
});

test('no directory traversal, no dot files, no unknown types, GET only', async () => {
  for (const path of ['/demo/../package.json', '/demo/%2e%2e/package.json', '/sdk/..%2f..%2fpackage.json', '/demo/..%5c..%5cpackage.json',
    '/console/%2e%2e%2f%2e%2e%2fserver%2fapp.ts', '/demo/.hidden', '/sdk/%00index.js', '/demo/nope.html', '/sdk/protocol/../../src/client.ts']) {
    const res = await raw('GET', path);
    assert.ok(res.status === 404 || res.status === 400, `${path} → ${res.status}`);
    assert.doesNotMatch(res.body, /"name": "tidings"|import /, path);
  }
  assert.equal((await raw('GET', '/demo/%E0%A4%A')).status, 400);
  for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await raw(method, '/demo/')).status, 405, method);
  assert.equal((await raw('GET', '/healthz')).status, 200, 'other routes still answer');
  assert.equal((await raw('GET', '/demos')).status, 404);
});

test('AUTH-3: POST /admin/token needs the admin secret and mints a short-lived token that logs in', async () => {
  const anonymous = await fetch(`${server.httpUrl}/admin/token`, { method: 'POST', body: '{"userId":"zoe"}' });
  assert.equal(anonymous.status, 401);
  assert.equal((await server.admin('/admin/token', { method: 'POST', body: '{"userId":"no spaces"}' })).status, 400);
  const minted = await (await server.admin('/admin/token', { method: 'POST', body: '{"userId":"zoe"}' })).json() as { token: string; expiresAt: number };
  assert.ok(minted.expiresAt - Date.now() <= 15 * 60_000 && minted.expiresAt - Date.now() > 14 * 60_000, 'valid for 15 minutes');
  const client = await TestClient.connect(server.url);
  assert.equal((await client.login(minted.token, 'zoe-web', 'web')).userId, 'zoe');
  await client.close();
});

test('GET /admin/devices lists online sessions, active registrations and their sandbox pushes', async () => {
  const phone = await server.connect('yan', 'yan-phone', 'android');
  await phone.expect({ type: 'push_register', provider: 'fcm', credential: 'android', token: 'yan-fcm:1' }, 'push_registered');
  const laptop = await server.connect('yan', 'yan-laptop', 'desktop');
  await phone.close();
  await (await server.admin('/admin/push/test', { method: 'POST', body: '{"userId":"yan"}' })).json();
  const devices = await (await server.admin('/admin/devices?user=yan')).json() as {
    sessions: Array<{ deviceId: string }>; registrations: Array<{ deviceId: string; online: boolean; active: boolean }>; sandboxPushes: Array<{ deviceId: string }>;
  };
  assert.deepEqual(devices.sessions.map((s) => s.deviceId), ['yan-laptop']);
  assert.deepEqual(devices.registrations.map((r) => [r.deviceId, r.active, r.online]), [['yan-phone', true, false]]);
  assert.deepEqual(devices.sandboxPushes.map((p) => p.deviceId), ['yan-phone']);
  assert.equal((await fetch(`${server.httpUrl}/admin/devices?user=yan`)).status, 401);
  assert.equal((await server.admin('/admin/devices')).status, 400);
  await laptop.close();
});
