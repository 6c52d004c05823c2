/**
 * Child-process entry: a raw `ws` echo server on 127.0.0.1 (the baseline benches compare
 * against). Every text frame is written straight back. Prints `{"url":...,"pid":...}` on
 * stdout; exits on SIGTERM/SIGINT or when stdin closes.
 */
import { WebSocketServer } from 'ws';
import { stopWhenAsked } from '../../lib/child-entry.ts';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', () => undefined);
});
await new Promise<void>((resolve, reject) => {
  wss.once('listening', resolve);
  wss.once('error', reject);
});

stopWhenAsked(() => {
  setTimeout(() => process.exit(0), 1000).unref();
  for (const client of wss.clients) client.terminate();
  wss.close(() => process.exit(0));
});

const address = wss.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ url: `ws://127.0.0.1:${port}`, pid: process.pid })}\n`);
