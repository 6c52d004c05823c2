/**
 * Child-process entry: a raw broadcast server on 127.0.0.1 (the fan-out ceiling). Every frame a
 * connection sends is written to every open connection, the sender included.
 *
 *   node --import tsx tools/bench/lib/broadcast-server.ts --transport ws|uws
 *
 * ws: a loop over `wss.clients` (what a `ws` user writes). uws: uWS pub/sub (every socket
 * subscribes to one topic, `app.publish`), the library's own broadcast path. Same stdout-JSON
 * protocol as echo-server.ts; exits on SIGTERM/SIGINT or when stdin closes.
 */
import { parseArgs } from 'node:util';
import { WebSocketServer, WebSocket } from 'ws';
import { loadUws } from './uws-import.ts';
import { stopWhenAsked } from '../../lib/child-entry.ts';

const { values } = parseArgs({ options: { transport: { type: 'string', default: 'ws' } }, strict: true });

let close: () => void;
let port: number;
if (values.transport === 'uws') {
  const uws = await loadUws();
  const app = uws.App();
  app.ws('/*', {
    compression: uws.DISABLED,
    maxPayloadLength: 1024 * 1024,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 0,
    open: (ws) => {
      ws.subscribe('all');
    },
    message: (_ws, message, isBinary) => {
      app.publish('all', message, isBinary);
    },
  });
  const token = await new Promise<NonNullable<Parameters<Parameters<typeof app.listen>[2]>[0]>>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (t) => (t ? resolve(t) : reject(new Error('uws listen failed'))));
  });
  port = uws.us_socket_local_port(token as never);
  close = () => uws.us_listen_socket_close(token);
} else if (values.transport === 'ws') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => {
      for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const address = wss.address();
  port = typeof address === 'object' && address ? address.port : 0;
  close = () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
  };
} else {
  console.error(`--transport must be ws or uws, got "${values.transport}"`);
  process.exit(2);
}

stopWhenAsked(() => {
  setTimeout(() => process.exit(0), 500).unref();
  close();
  process.exit(0);
});

process.stdout.write(`${JSON.stringify({ url: `ws://127.0.0.1:${port}`, pid: process.pid })}\n`);
