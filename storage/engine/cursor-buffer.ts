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
      if (this.#unsaved.get(key) === c.seq) this.#unsaved.delete(key);
    }
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
