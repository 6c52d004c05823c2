import type { ClientFrame, ServerFrame } from './wire.ts';
import { OPEN, type WebSocketConstructor, type WebSocketLike } from './socket.ts';

/** Client-side pacing, so the server's per-connection token bucket never refuses a frame. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export interface ConnectionListener {
  open(): void;
  frame(frame: ServerFrame): void;
  closed(code: number, reason: string): void;
}

let nextConnectionId = 1;

/**
 * One WebSocket: JSON frames in and out, paced by a token bucket (`rate_limited` errors carry no
 * `ref`, so a refused frame could not be matched to its request: better never to be refused).
 * After `end()` it reports nothing more.
 */
export class Connection {
  readonly id = nextConnectionId++;
  lastSentAt = 0;
  lastReceivedAt = Date.now();
  readonly #socket: WebSocketLike;
  readonly #listener: ConnectionListener;
  readonly #rate: RateLimit | undefined;
  readonly #queue: string[] = [];
  #tokens: number;
  #refilledAt = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ended = false;

  constructor(WebSocket: WebSocketConstructor, url: string, rate: RateLimit | undefined, listener: ConnectionListener) {
    this.#listener = listener;
    this.#rate = rate;
    this.#tokens = rate?.burst ?? 0;
    this.#socket = new WebSocket(url);
    this.#socket.onopen = () => {
      if (this.#ended) return;
      this.#drain();
      listener.open();
    };
    this.#socket.onmessage = (event: { data?: unknown }) => this.#onMessage(event.data);
    this.#socket.onclose = (event: { code?: number; reason?: string }) => {
      if (this.#ended) return;
      this.#finish();
      listener.closed(event.code ?? 1006, event.reason ?? '');
    };
    this.#socket.onerror = () => undefined; // a close event always follows
  }

  get open(): boolean {
    return !this.#ended && this.#socket.readyState === OPEN;
  }

  /** Frames waiting for the rate limiter. */
  get queued(): number {
    return this.#queue.length;
  }

  write(frame: ClientFrame): void {
    if (this.#ended) return;
    this.#queue.push(JSON.stringify(frame));
    this.#drain();
  }

  /**
   * Stop using the socket. `graceful`: write what is queued, then a normal close (1000). Otherwise
   * drop it at once (a dead or stale connection), without waiting for a closing handshake.
   */
  end(graceful: boolean): void {
    if (this.#ended) return;
    if (graceful && this.open) for (const text of this.#queue.splice(0)) this.#socket.send(text);
    this.#finish();
    try {
      if (!graceful && this.#socket.terminate) this.#socket.terminate();
      else this.#socket.close(1000, graceful ? 'bye' : 'dropped');
    } catch {
      // closing a socket that is still connecting throws in some implementations; it is gone anyway
    }
  }

  #finish(): void {
    this.#ended = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }

  #onMessage(data: unknown): void {
    if (this.#ended) return;
    this.lastReceivedAt = Date.now();
    if (typeof data !== 'string') return; // the server sends text frames only
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    if (frame && typeof frame === 'object' && typeof frame.type === 'string') this.#listener.frame(frame);
  }

  #drain(): void {
    if (this.#timer !== undefined || !this.open) return;
    const now = Date.now();
    if (this.#rate) {
      this.#tokens = Math.min(this.#rate.burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate.perSecond);
      this.#refilledAt = now;
    }
    while (this.#queue.length > 0 && (!this.#rate || this.#tokens >= 1)) {
      this.#socket.send(this.#queue.shift()!);
      this.lastSentAt = now;
      if (this.#rate) this.#tokens -= 1;
    }
    if (this.#queue.length > 0 && this.#rate) {
      const waitMs = Math.ceil(((1 - this.#tokens) / this.#rate.perSecond) * 1000);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#drain();
      }, waitMs);
    }
  }
}
