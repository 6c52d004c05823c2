/**
 * Group commit: callers submit work, a single loop drains the queue in batches and commits
 * each batch in one transaction. While one batch commits, the next accumulates, so fsync cost
 * is shared by everything that arrived meanwhile and throughput does not collapse under load.
 * Up to `maxInFlight` batches may be committing at once (started in order; `commitBatch` must
 * keep their outcomes in order itself).
 */
export interface Pending<I, O> {
  input: I;
  /** performance.now() when submitted. */
  queuedAt: number;
  resolve(value: O): void;
  reject(error: unknown): void;
}

export class GroupCommitQueue<I, O> {
  #queue: Pending<I, O>[] = [];
  #running: Promise<void> | undefined;
  readonly #maxBatch: number;
  readonly #commitBatch: (batch: Pending<I, O>[]) => Promise<void>;

  readonly #maxInFlight: number;
  /** Work (or a flush) is waiting to be started. */
  #kicked = false;
  #wake: (() => void) | undefined;

  constructor(maxBatch: number, commitBatch: (batch: Pending<I, O>[]) => Promise<void>, maxInFlight = 1) {
    this.#maxBatch = maxBatch;
    this.#commitBatch = commitBatch;
    this.#maxInFlight = maxInFlight;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ input, queuedAt: performance.now(), resolve, reject });
      this.kick();
    });
  }

  get depth(): number {
    return this.#queue.length;
  }

  /** How long the oldest work not yet handed to commitBatch has waited (0 when none waits). */
  oldestWaitMs(): number {
    const oldest = this.#queue[0];
    return oldest ? performance.now() - oldest.queuedAt : 0;
  }

  /** Start a pass even with nothing queued (used to flush side writes); starts the drain loop if idle. */
  kick(): void {
    this.#kicked = true;
    this.#wake?.();
    if (this.#running) return;
    this.#running = new Promise<void>((done) => setImmediate(() => void this.#drain().finally(done)));
  }

  /** Resolves once everything submitted before the call is committed (or failed). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    try {
      for (;;) {
        if (this.#kicked && inFlight.size < this.#maxInFlight) {
          this.#kicked = this.#queue.length > this.#maxBatch;
          const committing: Promise<void> = this.#commitBatch(this.#queue.splice(0, this.#maxBatch))
            .catch(() => undefined).finally(() => inFlight.delete(committing));
          inFlight.add(committing);
          // Give arrivals a turn to join the next batch, as one awaited commit would.
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        if (!this.#kicked && inFlight.size === 0) break;
        // Wait for a free slot, or (with one free) for new work.
        const woken = new Promise<void>((resolve) => { this.#wake = resolve; });
        await Promise.race([...inFlight, ...(this.#kicked ? [] : [woken])]);
        this.#wake = undefined;
      }
    } finally {
      this.#running = undefined;
      this.#wake = undefined;
      if (this.#kicked) this.kick();
    }
  }
}
