/**
 * The seam between tidings and a WebSocket library. Nothing outside an adapter sees `ws` or
 * uWebSockets.js types; the rest of the server talks to these interfaces only.
 */
export interface TransportConnection {
  readonly remoteAddress: string;
  /** Queue a text frame. */
  send(text: string): void;
  /** Bytes queued but not yet written to the socket (slow-reader detection, LIM-1). */
  bufferedBytes(): number;
  close(code: number, reason: string): void;
  /** Drop the socket at once, without a closing handshake (dead or abusive peers). */
  terminate(): void;
}

export interface ConnectionListener {
  /** A text frame arrived; `byteLength` is its UTF-8 size. Binary frames arrive with `binary` true. */
  message(data: string, byteLength: number, binary: boolean): void;
  closed(code: number, reason: string): void;
}

export interface HttpRequest {
  method: string;
  /** Path and query, e.g. `/admin/pushes?limit=10`. */
  url: string;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export type HttpHandler = (request: HttpRequest) => Promise<HttpResponse>;

export interface TransportOptions {
  host: string;
  port: number;
  /** Hard cap at the library level; frames above it are refused by the library with close code 1009. */
  hardMaxPayloadBytes: number;
  maxHttpBodyBytes: number;
  onConnection(connection: TransportConnection): ConnectionListener;
  onHttp: HttpHandler;
}

export interface Transport {
  readonly name: string;
  /** Start listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number>;
  /** Stop accepting new connections; existing ones stay open. */
  stopAccepting(): Promise<void>;
  /** Close every connection and the listener. */
  close(): Promise<void>;
}

export type TransportFactory = (options: TransportOptions) => Transport;

/** The server could not bind its port (in use, not permitted): said in one line, not a stack. */
export class ListenError extends Error {
  constructor(host: string, port: number, cause: Error) {
    const inUse = (cause as NodeJS.ErrnoException).code === 'EADDRINUSE' || /address in use/.test(cause.message);
    super(inUse
      ? `cannot listen on ${host}:${port}: the address is in use (another tidings running?); choose another port with --port or TIDINGS_PORT`
      : `cannot listen on ${host}:${port}: ${cause.message}`);
    this.name = 'ListenError';
  }
}

/** The configured transport cannot be loaded (uWebSockets.js missing or built for another platform). */
export class TransportUnavailableError extends Error {}
