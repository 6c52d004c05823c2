import WebSocket from 'ws';

export type Frame = Record<string, unknown>;

/** Open a `ws` client socket (no compression), failing after 10 s. */
export function openSocket(url: string, label: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`${label}: connect timed out`));
    }, 10_000);
    socket.once('open', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Request/reply by `ref` on one socket, for the benches' setup frames (login, sync, group_create). */
export class PendingRequests {
  readonly #waiters = new Map<string, (frame: Frame) => void>();
  #nextRef = 0;

  constructor(readonly socket: WebSocket, readonly label: string) {}

  /** Send a frame with a fresh ref; resolve with the reply of `type`, reject on anything else. */
  request(frame: Frame, type: string, timeoutMs = 10_000): Promise<Frame> {
    const ref = `q${this.#nextRef++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(ref);
        reject(new Error(`${this.label}: timed out waiting for ${type}`));
      }, timeoutMs);
      this.#waiters.set(ref, (reply) => {
        clearTimeout(timer);
        if (reply.type === type) resolve(reply);
        else if (reply.type === 'closed') reject(new Error(`${this.label}: socket closed (${String(reply.code)}) while waiting for ${type}; dropped by the heartbeat check during setup?`));
        else reject(new Error(`${this.label}: expected ${type}, got ${JSON.stringify(reply)}`));
      });
      this.socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  /** Hand a reply to the request waiting for its ref; false when none is. */
  settle(frame: Frame): boolean {
    const ref = frame.ref;
    if (typeof ref !== 'string') return false;
    const waiter = this.#waiters.get(ref);
    if (!waiter) return false;
    this.#waiters.delete(ref);
    waiter(frame);
    return true;
  }

  /** The socket closed: every request still waiting fails now. */
  closed(code: number): void {
    for (const [ref, waiter] of this.#waiters) {
      this.#waiters.delete(ref);
      waiter({ type: 'closed', code });
    }
  }
}
