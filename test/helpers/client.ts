import WebSocket from 'ws';
import { explainServerFrame, isServerFrame } from '../../protocol/validate.ts';
import type { ClientFrame, DeliveredEvent, Platform, ServerFrame, ServerFrameOf } from '../../protocol/index.ts';

type Waiter = { match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/**
 * A tiny real client over a real socket. Every frame the server sends is checked against the
 * protocol schema, so a test fails if the server ever speaks off-spec.
 */
export class TestClient {
  readonly socket: WebSocket;
  readonly frames: ServerFrame[] = [];
  /** Every delivered event, from `events` and `sync_page` frames, in arrival order. */
  readonly events: DeliveredEvent[] = [];
  readonly invalid: string[] = [];
  closeCode: number | undefined;
  closed: Promise<number>;
  #unread: ServerFrame[] = [];
  #waiters: Waiter[] = [];
  #nextRef = 1;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.#waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`socket closed (${code}) while waiting`));
      }
      resolve(code);
    }));
    socket.on('message', (data) => this.#onFrame(data.toString()));
  }

  static connect(url: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => resolve(new TestClient(socket)));
      socket.once('error', reject);
    });
  }

  #onFrame(text: string): void {
    const frame = JSON.parse(text) as ServerFrame;
    if (!isServerFrame(frame)) this.invalid.push(`${explainServerFrame(frame)}: ${text.slice(0, 300)}`);
    this.frames.push(frame);
    if (frame.type === 'events' || frame.type === 'sync_page') this.events.push(...frame.events);
    const index = this.#waiters.findIndex((w) => w.match(frame));
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1);
      clearTimeout(waiter!.timer);
      waiter!.resolve(frame);
    } else this.#unread.push(frame);
  }

  send(frame: ClientFrame): void {
    this.socket.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.socket.send(data, { binary });
  }

  ref(): string {
    return `r${this.#nextRef++}`;
  }

  /** Wait for the first not-yet-consumed frame matching `match`. */
  waitFor(match: (f: ServerFrame) => boolean, timeoutMs = 5000, label = 'frame'): Promise<ServerFrame> {
    const index = this.#unread.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#unread.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}; unread: ${JSON.stringify(this.#unread).slice(0, 500)}`));
      }, timeoutMs);
      this.#waiters.push({ match, resolve, reject, timer });
    });
  }

  next<T extends ServerFrame['type']>(type: T, timeoutMs = 5000): Promise<ServerFrameOf<T>> {
    return this.waitFor((f) => f.type === type, timeoutMs, type) as Promise<ServerFrameOf<T>>;
  }

  /** Send a frame with a fresh ref and wait for the reply (or error) carrying that ref. */
  async request(frame: ClientFrame, timeoutMs = 5000): Promise<ServerFrame> {
    const ref = this.ref();
    this.send({ ...frame, ref } as ClientFrame);
    return this.waitFor((f) => 'ref' in f && f.ref === ref, timeoutMs, `reply to ${frame.type}`);
  }

  async expect<T extends ServerFrame['type']>(frame: ClientFrame, type: T, timeoutMs = 5000): Promise<ServerFrameOf<T>> {
    const reply = await this.request(frame, timeoutMs);
    if (reply.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(reply)}`);
    return reply as ServerFrameOf<T>;
  }

  login(token: string, deviceId: string, platform: Platform = 'ios'): Promise<ServerFrameOf<'login_ok'>> {
    return this.expect({ type: 'login', token, deviceId, platform }, 'login_ok');
  }

  /** Sync from `after` (default: the server's stored cursor) and resolve once live. */
  async sync(after?: number, timeoutMs = 15000): Promise<ServerFrameOf<'sync_done'>> {
    const ref = this.ref();
    this.send({ type: 'sync', ref, ...(after !== undefined ? { after } : {}) });
    const reply = await this.waitFor((f) => (f.type === 'sync_done' || f.type === 'error') && f.ref === ref, timeoutMs, 'sync_done');
    if (reply.type !== 'sync_done') throw new Error(`sync failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  sendText(to: { user: string } | { group: string }, text: string, clientMsgId: string): Promise<ServerFrame> {
    return this.request({ type: 'send', clientMsgId, to, content: { type: 'text', text } });
  }

  /** Wait until at least `count` events have arrived in total. */
  async waitForEvents(count: number, timeoutMs = 5000): Promise<DeliveredEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} events, have ${this.events.length}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.events;
  }

  ackAll(): void {
    const last = this.events[this.events.length - 1];
    if (last) this.send({ type: 'ack', seq: last.seq });
  }

  close(): Promise<number> {
    this.socket.close();
    return this.closed;
  }

  /** Vanish without a closing handshake (like a phone losing its network). */
  terminate(): Promise<number> {
    this.socket.terminate();
    return this.closed;
  }
}
