import type { CursorWrite } from '../contract.ts';

const keyOf = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;

/**
 * Ack cursors waiting to ride along with the next commit, newest per device, and the view of
 * those not committed yet (pending or in a batch in flight) that readers such as the push
 * dispatcher's "already acked?" check must see.
 */
export class CursorBuffer {
  readonly #pending = new Map<string, CursorWrite>();
  readonly #unsaved = new Map<string, number>();
  readonly #waiters = new Map<string, Array<() => void>>();
  readonly #flushMs: number;
  readonly #kick: () => void;
  #timer: NodeJS.Timeout | undefined;

  /** `kick` starts a commit pass when cursors waited `flushMs` with no event traffic. */
  constructor(flushMs: number, kick: () => void) {
    this.#flushMs = flushMs;
    this.#kick = kick;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  save(userId: string, deviceId: string, seq: number): void {
    const key = keyOf(userId, deviceId);
    const prev = this.#pending.get(key);
    if (!prev || prev.seq < seq) this.#pending.set(key, { userId, deviceId, seq });
    if ((this.#unsaved.get(key) ?? -1) < seq) this.#unsaved.set(key, seq);
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#pending.size > 0) this.#kick();
      }, this.#flushMs);
      this.#timer.unref();
    }
  }

  unsaved(userId: string, deviceId: string): number | undefined {
    return this.#unsaved.get(keyOf(userId, deviceId));
  }

  /**
   * Resolves when the device has no unsaved cursor left, or when the batch carrying it failed;
   * a device with nothing unsaved resolves at once. Starts a commit pass rather than wait for the timer.
   */
  saved(userId: string, deviceId: string): Promise<void> {
    const key = keyOf(userId, deviceId);
    if (!this.#unsaved.has(key)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.#waiters.get(key);
      if (list) list.push(resolve);
      else this.#waiters.set(key, [resolve]);
      this.#kick();
    });
  }

  /** Everything pending, for the batch being planned. */
  take(): CursorWrite[] {
    const out = [...this.#pending.values()];
    this.#pending.clear();
    return out;
  }

  /** These cursors are in the database now; newer acks of the same devices stay visible. */
  committed(cursors: readonly CursorWrite[]): void {
    for (const c of cursors) {
      const key = keyOf(c.userId, c.deviceId);
      if (this.#unsaved.get(key) !== c.seq) continue;
      this.#unsaved.delete(key);
      this.#wake(key);
    }
  }

  /** The batch carrying these cursors failed: they ride along with the next one. */
  failed(cursors: readonly CursorWrite[]): void {
    for (const c of cursors) {
      const key = keyOf(c.userId, c.deviceId);
      const prev = this.#pending.get(key);
      if (!prev || prev.seq < c.seq) this.#pending.set(key, c);
      this.#wake(key);
    }
  }

  #wake(key: string): void {
    const list = this.#waiters.get(key);
    if (!list) return;
    this.#waiters.delete(key);
    for (const resolve of list) resolve();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const key of [...this.#waiters.keys()]) this.#wake(key);
  }
}
