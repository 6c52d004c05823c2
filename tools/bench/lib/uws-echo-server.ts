/**
 * Child-process entry: a raw uWebSockets.js echo server on 127.0.0.1 (the uws baseline benches
 * compare against). Every frame is written straight back. Same protocol as echo-server.ts:
 * prints `{"url":...,"pid":...}` on stdout; exits on SIGTERM/SIGINT or when stdin closes.
 */
import { loadUws } from './uws-import.ts';
import { stopWhenAsked } from '../../lib/child-entry.ts';

const uws = await loadUws();
const app = uws.App();
app.ws('/*', {
  compression: uws.DISABLED,
  maxPayloadLength: 1024 * 1024,
  maxBackpressure: 64 * 1024 * 1024,
  idleTimeout: 0,
  message: (ws, message, isBinary) => {
    ws.send(message, isBinary);
  },
});
const listenSocket = await new Promise<NonNullable<Parameters<Parameters<typeof app.listen>[2]>[0]>>((resolve, reject) => {
  app.listen('127.0.0.1', 0, (token) => (token ? resolve(token) : reject(new Error('uws listen failed'))));
});

stopWhenAsked(() => {
  uws.us_listen_socket_close(listenSocket);
  app.close?.();
  process.exit(0);
});

const port = uws.us_socket_local_port(listenSocket as never);
process.stdout.write(`${JSON.stringify({ url: `ws://127.0.0.1:${port}`, pid: process.pid })}\n`);
