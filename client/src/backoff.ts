export interface BackoffOptions {
  /** Ceiling of the first delay (default 500 ms). */
  baseMs?: number;
  /** Largest ceiling (default 30 s). */
  maxMs?: number;
  /** Uniform [0, 1) source; injectable for tests (default Math.random). */
  random?: () => number;
}

/**
 * Reconnect delays with "full jitter": the n-th consecutive failure (n = 0, 1, …) waits a uniform
 * time in [0, min(maxMs, baseMs · 2^n)], so thousands of devices that lost the same server do not
 * come back in lockstep.
 */
export class Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = Math.max(0, options.baseMs ?? 500);
    this.maxMs = Math.max(this.baseMs, options.maxMs ?? 30_000);
    this.#random = options.random ?? Math.random;
  }

  /** Consecutive failures so far (the exponent of the next delay). */
  get attempt(): number {
    return this.#attempt;
  }

  /** The largest delay the n-th attempt may wait. */
  ceiling(attempt: number): number {
    return Math.min(this.maxMs, this.baseMs * 2 ** attempt);
  }

  /** The delay before the next attempt; counts the attempt. */
  next(): number {
    const delay = Math.floor(this.#random() * this.ceiling(this.#attempt));
    this.#attempt += 1;
    return delay;
  }

  /**
   * The delay after a server's `reconnect {afterMs}` hint: never earlier than asked, plus up to
   * half of it again (at least `baseMs`) of jitter, so a restarted node is not hit all at once.
   */
  afterHint(afterMs: number): number {
    const spread = Math.max(this.baseMs, afterMs / 2);
    return afterMs + Math.floor(this.#random() * spread);
  }

  /** A connection went live: the next failure starts from baseMs again. */
  reset(): void {
    this.#attempt = 0;
  }
}
