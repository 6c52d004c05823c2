import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

/** A minimal device for benches: login, sync until sync_done, count events. No schema checks. */
export class LeanDevice {
  readonly socket: WebSocket;
  events = 0;
  #waiters = new Map<string, (frame: Record<string, unknown>) => void>();

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      if (frame.type === 'events' || frame.type === 'sync_page') this.events += (frame.events as unknown[]).length;
      const waiter = this.#waiters.get(frame.type as string);
      if (waiter) {
        this.#waiters.delete(frame.type as string);
        waiter(frame);
      }
    });
    socket.on('error', () => undefined);
  }

  /** `localAddress`: a loopback source address (127.0.0.x), each good for ~28k ports to one server. */
  static open(url: string, localAddress?: string): Promise<LeanDevice> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
      socket.once('open', () => resolve(new LeanDevice(socket)));
      socket.once('error', reject);
    });
  }

  next(type: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.set(type, (frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  send(frame: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(frame));
  }

  async login(token: string, deviceId: string): Promise<Record<string, unknown>> {
    const ok = this.next('login_ok');
    this.send({ type: 'login', token, deviceId, platform: 'android' });
    return ok;
  }

  async sync(after?: number): Promise<Record<string, unknown>> {
    const done = this.next('sync_done');
    this.send({ type: 'sync', ...(after !== undefined ? { after } : {}) });
    return done;
  }
}

/** Run `work` over items with at most `limit` in flight. */
export async function inBatches<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  }));
}

/** Resident memory of a process, from /proc (Linux). */
export function rssBytesOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}
