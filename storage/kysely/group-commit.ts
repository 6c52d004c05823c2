/**
 * Group commit: callers submit work, a single loop drains the queue in batches and commits
 * each batch in one transaction. While one batch commits, the next accumulates, so fsync cost
 * is shared by everything that arrived meanwhile and throughput does not collapse under load.
 * Up to `maxInFlight` batches may be committing at once (started in order; `commitBatch` must
 * keep their outcomes in order itself).
 */
export interface Pending<I, O> {
  input: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

export class GroupCommitQueue<I, O> {
  #queue: Pending<I, O>[] = [];
  #running: Promise<void> | undefined;
  readonly #maxBatch: number;
  readonly #commitBatch: (batch: Pending<I, O>[]) => Promise<void>;

  readonly #maxInFlight: number;

  constructor(maxBatch: number, commitBatch: (batch: Pending<I, O>[]) => Promise<void>, maxInFlight = 1) {
    this.#maxBatch = maxBatch;
    this.#commitBatch = commitBatch;
    this.#maxInFlight = maxInFlight;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      this.kick();
    });
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** Start the drain loop if it is idle (also used to flush side writes with no submitted work). */
  kick(): void {
    if (this.#running) return;
    this.#running = new Promise<void>((done) => setImmediate(() => void this.#drain().finally(done)));
  }

  /** Resolves once everything submitted before the call is committed (or failed). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    const inFlight: Promise<void>[] = [];
    try {
      // The first pass runs even when empty: kick() uses it to flush side writes.
      for (let first = true; ; first = false) {
        if (this.#queue.length === 0 && !first) {
          if (inFlight.length === 0) break;
          await inFlight.shift();
          continue;
        }
        inFlight.push(this.#commitBatch(this.#queue.splice(0, this.#maxBatch)).catch(() => undefined));
        if (inFlight.length >= this.#maxInFlight) await inFlight.shift();
        // Give arrivals a turn to join the next batch, as one awaited commit would.
        else await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.#running = undefined;
      if (this.#queue.length > 0) this.kick();
    }
  }
}
