import { STATUS_CODES } from 'node:http';
import type * as Uws from 'uWebSockets.js';
import type { ConnectionListener, HttpRequest, HttpResponse, Transport, TransportConnection, TransportFactory, TransportOptions } from './transport.ts';
import { TransportUnavailableError } from './transport.ts';

type UwsModule = typeof Uws;
type UwsSocket = Uws.WebSocket<UserData>;

/** What the upgrade handler hands to `open`: captured while the request is still valid. */
interface UserData {
  remoteAddress: string;
  connection?: UwsConnection;
}

/** uWS `send` status: the frame was not queued because `maxBackpressure` was already exceeded. */
const SEND_DROPPED = 2;
/** `listen` option: no SO_REUSEPORT, so a port in use fails as it does with Node's HTTP server. */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;
/**
 * uWS refuses oversize and invalid UTF-8 frames by dropping the TCP connection without a close
 * frame (the peer sees 1006). To give the 1009 the transport contract promises, uWS's own limit
 * sits above the hard cap and the cap is enforced here; only frames beyond this multiple of the
 * cap still meet the library's drop.
 */
const LIBRARY_PAYLOAD_FACTOR = 4;
/** uWS drops frames past this much backpressure; the server's slow-reader bound (LIM-1) must act first. */
const MAX_BACKPRESSURE_BYTES = 64 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Connections with frames queued in the current event-loop turn, written together at setImmediate. */
const pendingFlush = new Set<UwsConnection>();
let flushScheduled = false;

function flushPending(): void {
  flushScheduled = false;
  const connections = [...pendingFlush];
  pendingFlush.clear();
  for (const connection of connections) connection.flush();
}

class UwsConnection implements TransportConnection {
  readonly remoteAddress: string;
  listener: ConnectionListener | undefined;
  readonly #socket: UwsSocket;
  #closed = false;
  #queue: string[] = [];
  #queuedBytes = 0;

  constructor(socket: UwsSocket, remoteAddress: string) {
    this.#socket = socket;
    this.remoteAddress = remoteAddress;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  send(text: string): void {
    if (this.#closed) return;
    // Frames written in one event-loop turn (events, then the send_ack) leave corked, in one syscall.
    this.#queue.push(text);
    this.#queuedBytes += Buffer.byteLength(text);
    pendingFlush.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushPending);
    }
  }

  /** Hand queued frames to uWS, which keeps whatever the socket does not take yet. */
  flush(): void {
    pendingFlush.delete(this);
    if (this.#closed || this.#queue.length === 0) return;
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    let dropped = false;
    this.#socket.cork(() => {
      for (const text of queue) {
        if (this.#socket.send(text, false) === SEND_DROPPED) {
          dropped = true;
          break;
        }
      }
    });
    // A frame uWS refused would leave a gap in the stream; the peer must reconnect and resync.
    if (dropped) this.terminate();
  }

  bufferedBytes(): number {
    return this.#closed ? 0 : this.#queuedBytes + this.#socket.getBufferedAmount();
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.flush();
    if (this.#closed) return;
    // uWS sends the close frame, runs the close handler at once and drops a peer that never answers.
    this.#socket.end(code, reason);
  }

  terminate(): void {
    if (this.#closed) return;
    this.#queue = [];
    this.#queuedBytes = 0;
    pendingFlush.delete(this);
    this.#socket.close();
  }

  /** From uWS's close handler: the socket object must not be touched from here on. */
  markClosed(code: number, reason: string): void {
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    pendingFlush.delete(this);
    // `ws` reports a close asynchronously; so does this adapter (uWS calls back synchronously from end/close).
    queueMicrotask(() => this.listener?.closed(code, reason));
  }
}

/** uWS prints IPv6 in full (`0000:…:ffff:7f00:0001`); give the short forms Node's sockets use. */
function formatAddress(raw: ArrayBuffer): string {
  const text = Buffer.from(raw).toString('latin1');
  if (!text.includes(':')) return text || 'unknown';
  const mapped = /^(?:0{1,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(text);
  if (mapped) {
    const high = parseInt(mapped[1]!, 16);
    const low = parseInt(mapped[2]!, 16);
    return `::ffff:${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return text;
  }
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

function createUwsTransport(uws: UwsModule, options: TransportOptions): Transport {
  const app = uws.App();
  const sockets = new Set<UwsSocket>();
  let listenSocket: Uws.us_listen_socket | undefined;
  let closed = false;

  app.ws<UserData>('/*', {
    compression: uws.DISABLED,
    maxPayloadLength: options.hardMaxPayloadBytes * LIBRARY_PAYLOAD_FACTOR,
    maxBackpressure: MAX_BACKPRESSURE_BYTES,
    // tidings has its own heartbeat deadline; uWS's idle timer would close quiet but live devices.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    upgrade(res, req, context) {
      const key = req.getHeader('sec-websocket-key');
      // Like `ws` without handleProtocols: accept the first offered subprotocol, if any.
      const protocol = req.getHeader('sec-websocket-protocol').split(',')[0]!.trim();
      const extensions = req.getHeader('sec-websocket-extensions');
      const userData: UserData = { remoteAddress: formatAddress(res.getRemoteAddressAsText()) };
      res.upgrade(userData, key, protocol, extensions, context);
    },
    open(ws) {
      sockets.add(ws);
      const data = ws.getUserData();
      const connection = new UwsConnection(ws, data.remoteAddress);
      data.connection = connection;
      // onConnection may already close the connection (connection limit, draining).
      connection.listener = options.onConnection(connection);
    },
    message(ws, message, isBinary) {
      const connection = ws.getUserData().connection;
      if (!connection || connection.isClosed) return;
      const bytes = message.byteLength;
      if (bytes > options.hardMaxPayloadBytes) {
        connection.close(1009, 'Message too big');
        return;
      }
      if (isBinary) {
        connection.listener?.message('', bytes, true);
        return;
      }
      let text: string;
      try {
        text = utf8.decode(message);
      } catch {
        connection.close(1007, 'Invalid UTF-8');
        return;
      }
      connection.listener?.message(text, bytes, false);
    },
    close(ws, code, message) {
      sockets.delete(ws);
      ws.getUserData().connection?.markClosed(code, Buffer.from(message).toString('utf8'));
    },
  });

  app.any('/*', (res, req) => {
    let aborted = false;
    let answered = false;
    res.onAborted(() => {
      aborted = true;
    });
    // The request object is valid only until this handler returns: copy everything now.
    const query = req.getQuery();
    const headers: Record<string, string | undefined> = {};
    req.forEach((key, value) => {
      headers[key] = headers[key] === undefined ? value : `${headers[key]},${value}`;
    });
    const request: Omit<HttpRequest, 'body'> = {
      method: req.getMethod().toUpperCase(),
      url: query ? `${req.getUrl()}?${query}` : req.getUrl(),
      headers,
    };

    const respond = (status: number, responseHeaders: Record<string, string>, body: string, closeConnection = false) => {
      if (aborted || answered) return;
      answered = true;
      res.cork(() => {
        res.writeStatus(statusLine(status));
        for (const [name, value] of Object.entries(responseHeaders)) {
          if (name.toLowerCase() !== 'content-length') res.writeHeader(name, value);
        }
        res.end(body, closeConnection);
      });
    };

    const declared = Number(headers['content-length'] ?? 0);
    if (declared > options.maxHttpBodyBytes) {
      respond(413, {}, '', true);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (answered || aborted) return;
      size += chunk.byteLength;
      if (size > options.maxHttpBodyBytes) {
        respond(413, {}, '', true);
        return;
      }
      // The ArrayBuffer is neutered when this callback returns: copy it.
      if (chunk.byteLength > 0) chunks.push(Buffer.from(chunk.slice(0)));
      if (!isLast) return;
      options.onHttp({ ...request, body: Buffer.concat(chunks) }).then(
        (response: HttpResponse) => respond(response.status, response.headers ?? {}, response.body),
        () => respond(500, { 'content-type': 'application/json' }, '{"error":"internal"}'),
      );
    });
  });

  return {
    name: 'uws',
    listen() {
      return new Promise((resolve, reject) => {
        // listen(host, port, options, cb): the native binding accepts it, the typings do not.
        const listen = app.listen as unknown as (host: string, port: number, flags: number, cb: (socket: Uws.us_listen_socket | false) => void) => void;
        listen.call(app, options.host, options.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
          if (!socket) {
            reject(new Error(`uWebSockets.js could not listen on ${options.host}:${options.port} (address in use or not available)`));
            return;
          }
          listenSocket = socket;
          resolve(uws.us_socket_local_port(socket as unknown as Uws.us_socket));
        });
      });
    },
    async stopAccepting() {
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      listenSocket = undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      // Let queued frames (the `reconnect` hint) reach the wire before sockets are dropped.
      await new Promise((resolve) => setImmediate(resolve));
      flushPending();
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      listenSocket = undefined;
      for (const ws of [...sockets]) ws.getUserData().connection?.terminate();
      // Also ends keep-alive HTTP connections; not in older uWebSockets.js builds.
      (app as { close?: () => void }).close?.();
    },
  };
}

/**
 * The uWebSockets.js transport. The library is an optional native dependency, imported only
 * when this transport is selected.
 */
export async function loadUwsTransport(): Promise<TransportFactory> {
  let uws: UwsModule;
  try {
    const module = (await import('uWebSockets.js')) as unknown as { default?: UwsModule } & UwsModule;
    uws = module.default ?? module;
    if (typeof uws.App !== 'function') throw new Error('the module has no App export');
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new TransportUnavailableError(
      'transport "uws" needs uWebSockets.js, which could not be loaded'
      + ` (${detail}).\n`
      + 'Install it with `npm install` (it is an optional dependency: uWebSockets.js@npm:uwebsockets@3.0.6),\n'
      + 'or, on a machine that can reach GitHub, use the official build instead (newest v20 release tag):\n'
      + '  npm install uWebSockets.js@uNetworking/uWebSockets.js#v20.x.y\n'
      + 'Or use the default transport: --transport ws.',
      { cause: error },
    );
  }
  return (options) => createUwsTransport(uws, options);
}
