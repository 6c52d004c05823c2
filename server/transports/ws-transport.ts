import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { HttpRequest, Transport, TransportConnection, TransportOptions } from './transport.ts';

class WsConnection implements TransportConnection {
  readonly remoteAddress: string;
  readonly #socket: WebSocket;
  readonly #tcp: Duplex | undefined;
  #corked = false;

  constructor(socket: WebSocket, remoteAddress: string, tcp: Duplex | undefined) {
    this.#socket = socket;
    this.#tcp = tcp;
    this.remoteAddress = remoteAddress;
  }

  send(text: string): void {
    if (this.#socket.readyState !== this.#socket.OPEN) return;
    // Frames written in one event-loop turn (events, then the send_ack) leave in one syscall.
    if (!this.#corked && this.#tcp) {
      this.#corked = true;
      this.#tcp.cork();
      setImmediate(() => {
        this.#corked = false;
        this.#tcp?.uncork();
      });
    }
    this.#socket.send(text);
  }

  bufferedBytes(): number {
    return this.#socket.bufferedAmount;
  }

  close(code: number, reason: string): void {
    this.#tcp?.uncork();
    this.#socket.close(code, reason);
    // A peer that never answers the closing handshake must not hold the socket forever.
    setTimeout(() => this.#socket.terminate(), 2000).unref();
  }

  terminate(): void {
    this.#socket.terminate();
  }
}

function rawToString(data: RawData): { text: string; bytes: number } {
  if (Array.isArray(data)) {
    const buffer = Buffer.concat(data);
    return { text: buffer.toString('utf8'), bytes: buffer.length };
  }
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return { text: buffer.toString('utf8'), bytes: buffer.length };
}

/** The default transport, on the `ws` library and Node's own HTTP server. */
export function createWsTransport(options: TransportOptions): Transport {
  let server: Server | undefined;
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.hardMaxPayloadBytes, perMessageDeflate: false });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const connection = new WsConnection(socket, request.socket.remoteAddress ?? 'unknown', request.socket);
    const listener = options.onConnection(connection);
    socket.on('message', (data, isBinary) => {
      const { text, bytes } = rawToString(data);
      listener.message(isBinary ? '' : text, bytes, isBinary);
    });
    socket.on('close', (code, reason) => listener.closed(code, reason.toString()));
    // Protocol violations (bad UTF-8, oversize) surface here; ws then closes the socket itself.
    socket.on('error', () => undefined);
  });

  const handleHttp = (request: IncomingMessage, body: Buffer, respond: (status: number, headers: Record<string, string>, text: string) => void) => {
    const req: HttpRequest = {
      method: request.method ?? 'GET', url: request.url ?? '/',
      headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])),
      body,
    };
    options.onHttp(req).then(
      (res) => respond(res.status, res.headers ?? {}, res.body),
      () => respond(500, { 'content-type': 'application/json' }, '{"error":"internal"}'),
    );
  };

  return {
    name: 'ws',
    listen() {
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        request.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxHttpBodyBytes) {
            response.writeHead(413).end();
            request.destroy();
          } else chunks.push(chunk);
        });
        request.on('end', () => handleHttp(request, Buffer.concat(chunks), (status, headers, text) => {
          response.writeHead(status, headers).end(text);
        }));
      });
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
      });
      server.on('clientError', (_error, socket) => socket.destroy());
      return new Promise((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(options.port, options.host, () => {
          const address = server!.address();
          resolve(typeof address === 'object' && address ? address.port : options.port);
        });
      });
    },
    async stopAccepting() {
      // close() stops the listener at once; its callback would wait for upgraded sockets too.
      if (server?.listening) server.close();
      server?.closeIdleConnections();
    },
    async close() {
      // Let corked frames (the `reconnect` hint) reach the wire before sockets are dropped.
      await new Promise((resolve) => setImmediate(resolve));
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (server?.listening) server.close();
      server?.closeAllConnections();
    },
  };
}
