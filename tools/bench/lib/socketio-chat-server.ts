/**
 * Child-process entry: the minimal Socket.IO chat server a Node user would write instead of
 * tidings (the comparison issue 6 (b) names). Each socket joins a room for its user (so a peer
 * message is `socket.to('u:<peer>')`) and may `join` group rooms; `send` relays the message to
 * the room with `socket.to(room).emit('message', …)` and answers the sender's ack callback with
 * an id and timestamp. In memory only: nothing is persisted, there is no sync, no offline
 * delivery, no auth — it is NOT durable, while tidings commits every message to SQLite before
 * its send_ack. Same stdout-JSON protocol as echo-server.ts; exits on SIGTERM/SIGINT or when
 * stdin closes.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { stopWhenAsked } from '../../lib/child-entry.ts';

interface SendPayload {
  to: { user?: string; group?: string };
  clientMsgId?: string;
  content: unknown;
}

const http = createServer();
const io = new Server(http, { serveClient: false, perMessageDeflate: false });
let nextId = 0;

io.on('connection', (socket) => {
  const user = String((socket.handshake.auth as { user?: unknown }).user ?? socket.id);
  void socket.join(`u:${user}`);
  socket.on('join', (group: string, ack?: () => void) => {
    void socket.join(`g:${group}`);
    ack?.();
  });
  socket.on('send', (msg: SendPayload, ack?: (reply: { id: number; at: number }) => void) => {
    const id = ++nextId;
    const at = Date.now();
    const room = msg.to.user !== undefined ? `u:${msg.to.user}` : `g:${msg.to.group}`;
    socket.to(room).emit('message', { id, from: user, to: msg.to, clientMsgId: msg.clientMsgId, content: msg.content, at });
    ack?.({ id, at });
  });
});

await new Promise<void>((resolve, reject) => {
  http.once('error', reject);
  http.listen(0, '127.0.0.1', resolve);
});

stopWhenAsked(() => {
  setTimeout(() => process.exit(0), 500).unref();
  io.close(() => process.exit(0));
});

const address = http.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
