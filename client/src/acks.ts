export interface AckOptions {
  /** Ack at most this long after the first unacked event (default 500 ms). */
  delayMs?: number;
  /** …or as soon as this many events are unacked (default 50). */
  maxEvents?: number;
}

/**
 * Batched acks (SYNC-1): one `ack {seq}` for many events, a short delay after the first unacked
 * one or every `maxEvents`. `flush(seq)` persists the cursor and sends the ack; it answers false
 * when the ack could not be sent (offline), and the batcher tries again with the next event or
 * after the next login.
 */
export class AckBatcher {
  readonly delayMs: number;
  readonly maxEvents: number;
  /** Newest seq the server was told about (on this or an earlier connection). */
  acked = 0;
  #unacked = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #cursor: () => number;
  readonly #flush: (seq: number) => Promise<boolean>;

  constructor(options: AckOptions, cursor: () => number, flush: (seq: number) => Promise<boolean>) {
    this.delayMs = options.delayMs ?? 500;
    this.maxEvents = Math.max(1, options.maxEvents ?? 50);
    this.#cursor = cursor;
    this.#flush = flush;
  }

  /** One more event was processed. */
  note(): void {
    this.#unacked += 1;
    if (this.#unacked >= this.maxEvents) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.delayMs);
  }

  /** Ack now, if there is anything new. */
  async flush(): Promise<void> {
    this.cancel();
    const seq = this.#cursor();
    if (seq <= this.acked) return;
    const count = this.#unacked;
    this.#unacked = 0;
    if (await this.#flush(seq)) this.acked = Math.max(this.acked, seq);
    else this.#unacked += count;
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
