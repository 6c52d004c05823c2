import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { loadTransportFactory } from '../../server/transports/index.ts';
import type { ConnectionListener, HttpRequest, Transport, TransportConnection, TransportOptions } from '../../server/transports/transport.ts';
import { startTestServer, eventually } from '../helpers/server.ts';

// Adapter-specific checks for uWebSockets.js; the protocol suite covers the rest (npm run test:uws).

async function startUws(overrides: Partial<TransportOptions> = {}) {
  const requests: HttpRequest[] = [];
  const connections: Array<{ connection: TransportConnection; frames: string[]; closed?: [number, string] }> = [];
  const factory = await loadTransportFactory('uws');
  const transport: Transport = factory({
    host: '127.0.0.1', port: 0, hardMaxPayloadBytes: 1024 * 1024, maxHttpBodyBytes: 64 * 1024,
    onConnection(connection): ConnectionListener {
      const entry: (typeof connections)[number] = { connection, frames: [] };
      connections.push(entry);
      return {
        message: (text) => entry.frames.push(text),
        closed: (code, reason) => { entry.closed = [code, reason]; },
      };
    },
    async onHttp(request) {
      requests.push(request);
      return { status: 201, headers: { 'content-type': 'application/json', 'x-echo': 'yes' }, body: JSON.stringify({ bytes: request.body.length }) };
    },
    ...overrides,
  });
  const port = await transport.listen();
  return { transport, port, requests, connections };
}

test('uws: port 0 binds a real port, and a port in use is refused rather than shared', async () => {
  const a = await startUws();
  try {
    assert.ok(a.port > 0 && a.port < 65536, `port ${a.port}`);
    const factory = await loadTransportFactory('uws');
    const b = factory({
      host: '127.0.0.1', port: a.port, hardMaxPayloadBytes: 1024, maxHttpBodyBytes: 1024,
      onConnection: () => ({ message: () => undefined, closed: () => undefined }),
      onHttp: async () => ({ status: 200, body: '' }),
    });
    await assert.rejects(b.listen(), /could not listen/);
    await b.close();
  } finally {
    await a.transport.close();
  }
});

test('uws: HTTP requests carry method, path, query, headers and the whole body; bodies over the cap get 413', async () => {
  const { transport, port, requests } = await startUws();
  try {
    const body = Buffer.alloc(40 * 1024, 'b');
    const response = await fetch(`http://127.0.0.1:${port}/admin/things?limit=10&x=%20y`, {
      method: 'POST', body, headers: { authorization: 'Bearer s3cret', 'content-type': 'application/octet-stream' },
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('x-echo'), 'yes');
    assert.deepEqual(await response.json(), { bytes: body.length });
    const request = requests.at(-1)!;
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/admin/things?limit=10&x=%20y');
    assert.equal(request.headers.authorization, 'Bearer s3cret');
    assert.ok(request.body.equals(body));

    const get = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(get.status, 201);
    assert.equal(requests.at(-1)!.method, 'GET');
    assert.equal(requests.at(-1)!.body.length, 0);

    const tooBig = await fetch(`http://127.0.0.1:${port}/admin/things`, { method: 'POST', body: Buffer.alloc(65 * 1024) }).catch(() => undefined);
    if (tooBig) assert.equal(tooBig.status, 413);
    assert.equal(requests.length, 2, 'an oversize body never reaches the handler');
  } finally {
    await transport.close();
  }
});

test('uws: connections report the peer address, close with the given code and report closing', async () => {
  const { transport, port, connections } = await startUws();
  try {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
    const closed = new Promise<[number, string]>((resolve) => socket.on('close', (code, reason) => resolve([code, reason.toString()])));
    const received: string[] = [];
    socket.on('message', (data) => received.push(data.toString()));
    await new Promise((resolve) => socket.once('open', resolve));
    const [entry] = await eventually(() => connections.length === 1 && connections);
    assert.equal(entry!.connection.remoteAddress, '127.0.0.1');
    socket.send('héllo');
    await eventually(() => entry!.frames.length === 1, 2000, 'frame');
    assert.equal(entry!.frames[0], 'héllo');
    entry!.connection.send('one');
    entry!.connection.send('two');
    assert.ok(entry!.connection.bufferedBytes() >= 6, 'queued frames count as buffered');
    entry!.connection.close(4001, 'kicked');
    assert.deepEqual(await closed, [4001, 'kicked']);
    assert.deepEqual(received, ['one', 'two'], 'frames queued before close are written first');
    await eventually(() => entry!.closed, 2000, 'closed callback');
    assert.equal(entry!.closed![0], 4001);
    assert.equal(entry!.connection.bufferedBytes(), 0);
    entry!.connection.send('after close is ignored');
  } finally {
    await transport.close();
  }
});

test('uws: a full server answers /healthz, /metrics and the admin API on its WebSocket port', async () => {
  const t = await startTestServer({ transport: 'uws' });
  try {
    assert.match(t.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(t.server.port, 0);
    const alice = await t.connect('alice');
    await alice.sync();

    const health = await fetch(`${t.httpUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.match(health.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(((await health.json()) as { status: string; sessions: number }).sessions, 1);

    const metrics = await fetch(`${t.httpUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /# TYPE /);

    const sessions = await t.admin('/admin/sessions');
    assert.equal(sessions.status, 200);
    assert.equal(((await sessions.json()) as { sessions: unknown[] }).sessions.length, 1);
    assert.equal((await fetch(`${t.httpUrl}/admin/sessions`)).status, 401);
    const posted = await t.admin('/admin/sessions', { method: 'POST', body: JSON.stringify({ any: 'body' }), headers: { 'content-type': 'application/json' } });
    assert.equal(posted.status, 404);
    assert.deepEqual(await posted.json(), { error: 'no such admin route' });
  } finally {
    await t.stop();
  }
});
