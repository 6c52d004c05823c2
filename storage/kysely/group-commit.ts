/**
 * Group commit: callers submit work, a single loop drains the queue in batches and commits
 * each batch in one transaction. While one batch commits, the next accumulates, so fsync cost
 * is shared by everything that arrived meanwhile and throughput does not collapse under load.
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

  constructor(maxBatch: number, commitBatch: (batch: Pending<I, O>[]) => Promise<void>) {
    this.#maxBatch = maxBatch;
    this.#commitBatch = commitBatch;
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
    try {
      for (;;) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        await this.#commitBatch(batch);
        if (this.#queue.length === 0) break;
      }
    } finally {
      this.#running = undefined;
      if (this.#queue.length > 0) this.kick();
    }
  }
}
