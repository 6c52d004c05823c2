/**
 * What the SDK tests share: a real tidings (test/helpers/server.ts) and TidingsClients over `ws`,
 * through a tap that records every frame each way and can cut the client's network (a
 * "blackhole": nothing in, nothing out, like a phone in a tunnel). The server is never mocked.
 */
import WebSocket from 'ws';
import type { ClientFrame, ServerFrame } from '../../protocol/index.ts';
import { TidingsClient, type TidingsClientOptions, type WebSocketLike, type MessageEvent, type StateChange } from '../../client/src/index.ts';
import type { TestServer } from '../helpers/server.ts';

export class Tap {
  readonly sockets: TapSocket[] = [];
  readonly sent: ClientFrame[] = [];
  readonly received: ServerFrame[] = [];
  /** Called after a frame was written (before the server can answer it). */
  onSent: ((frame: ClientFrame, socket: TapSocket) => void) | undefined;

  get WebSocket() {
    const tap = this;
    return class extends TapSocket {
      constructor(url: string) {
        super(url, tap);
      }
    };
  }

  get last(): TapSocket {
    return this.sockets[this.sockets.length - 1]!;
  }

  sentOf<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.sent.filter((f) => f.type === type) as Extract<ClientFrame, { type: T }>[];
  }

  receivedOf<T extends ServerFrame['type']>(type: T): Extract<ServerFrame, { type: T }>[] {
    return this.received.filter((f) => f.type === type) as Extract<ServerFrame, { type: T }>[];
  }
}

export class TapSocket implements WebSocketLike {
  readonly ws: WebSocket;
  blackhole = false;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly #tap: Tap;

  constructor(url: string, tap: Tap) {
    this.#tap = tap;
    tap.sockets.push(this);
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.onopen = (event) => this.onopen?.(event);
    this.ws.onmessage = (event) => {
      if (this.blackhole) return;
      tap.received.push(JSON.parse(String(event.data)) as ServerFrame);
      this.onmessage?.({ data: event.data });
    };
    this.ws.onclose = (event) => this.onclose?.({ code: event.code, reason: event.reason });
    this.ws.onerror = (event) => this.onerror?.(event);
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: string): void {
    if (this.blackhole) return;
    const frame = JSON.parse(data) as ClientFrame;
    this.#tap.sent.push(frame);
    this.ws.send(data);
    this.#tap.onSent?.(frame, this);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** Everything one client emitted, for assertions. */
export interface Recorded {
  client: TidingsClient;
  tap: Tap;
  messages: MessageEvent[];
  states: StateChange[];
  errors: Error[];
}

const clients: TidingsClient[] = [];

export function sdkClient(server: TestServer, userId: string, options: Partial<TidingsClientOptions> = {}): Recorded {
  const tap = new Tap();
  const client = new TidingsClient({
    url: () => server.url, token: () => server.token(userId), deviceId: `${userId}-web`, platform: 'web',
    WebSocket: tap.WebSocket, reconnect: { baseMs: 50, maxMs: 500 }, ...options,
  });
  clients.push(client);
  const recorded: Recorded = { client, tap, messages: [], states: [], errors: [] };
  client.on('message', (m) => recorded.messages.push(m));
  client.on('state', (s) => recorded.states.push(s));
  client.on('error', (e) => recorded.errors.push(e));
  return recorded;
}

/** Close every client the test made (before the server stops). */
export async function closeClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
}

export function texts(messages: readonly MessageEvent[], from?: string): string[] {
  return messages.filter((m) => from === undefined || m.from === from).map((m) => (m.content.type === 'text' ? m.content.text : m.content.data));
}
