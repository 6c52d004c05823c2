/** Latency samples, percentiles, log-scale histograms and a per-second timeline. */

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface HistogramBucket {
  /** Upper bound of the bucket in ms (the last bucket is open-ended). */
  le: number;
  count: number;
}

/** Histogram bucket upper bounds in ms: 1-2-5 steps from 0.1 ms to 120 s. */
export const BUCKETS_MS: readonly number[] = (() => {
  const out: number[] = [];
  for (let decade = 0.1; decade <= 100_000; decade *= 10) for (const step of [1, 2, 5]) out.push(Number((decade * step).toPrecision(3)));
  return out.filter((b) => b <= 200_000);
})();

/** Growable sample store; beyond `cap` samples it keeps a uniform reservoir (bounded memory). */
export class Latencies {
  #samples = new Float64Array(1024);
  #n = 0;
  #seen = 0;
  #max = 0;
  #sum = 0;
  readonly #cap: number;

  constructor(cap = 2_000_000) {
    this.#cap = cap;
  }

  add(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#seen += 1;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
    if (this.#n < this.#cap) {
      if (this.#n === this.#samples.length) {
        const bigger = new Float64Array(Math.min(this.#cap, this.#samples.length * 2));
        bigger.set(this.#samples);
        this.#samples = bigger;
      }
      this.#samples[this.#n++] = ms;
    } else {
      const slot = Math.floor(Math.random() * this.#seen);
      if (slot < this.#cap) this.#samples[slot] = ms;
    }
  }

  get count(): number {
    return this.#seen;
  }

  summary(): LatencySummary {
    const sorted = this.#samples.slice(0, this.#n).sort();
    const at = (p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!);
    return { n: this.#seen, p50: at(50), p95: at(95), p99: at(99), max: this.#seen ? this.#max : Number.NaN, mean: this.#seen ? this.#sum / this.#seen : Number.NaN };
  }

  histogram(): HistogramBucket[] {
    const counts = new Array<number>(BUCKETS_MS.length + 1).fill(0);
    for (let i = 0; i < this.#n; i++) {
      const v = this.#samples[i]!;
      let b = 0;
      while (b < BUCKETS_MS.length && v > BUCKETS_MS[b]!) b++;
      counts[b]! += 1;
    }
    // Scale reservoir counts back up to the number of samples seen.
    const scale = this.#n > 0 ? this.#seen / this.#n : 1;
    return counts.map((count, i) => ({ le: i < BUCKETS_MS.length ? BUCKETS_MS[i]! : Number.POSITIVE_INFINITY, count: Math.round(count * scale) }));
  }
}

export type TimelineCounter = 'sent' | 'acked' | 'delivered' | 'pushes' | 'errors' | 'logins' | 'closes';

export interface TimelineRow {
  t: number; // seconds since the run started
  sent: number;
  acked: number;
  delivered: number;
  pushes: number;
  errors: number;
  logins: number;
  closes: number;
  /** Sampled once a second; null for a second whose sample was missed (a stalled tool), drawn as a gap. */
  connected: number | null;
  serverRssMb: number | null;
  serverCpuPct: number | null;
  /** --cluster: each process's CPU % and RSS (nodes, postgres, redis, vendors, load generator). */
  procs?: Record<string, { cpuPct: number | null; rssMb: number | null }>;
  /** What happened in this second that the counters do not say (a node killed). */
  events?: string[];
}

/** Per-second counters relative to a start time (setup is t < 0 and not kept). */
export class Timeline {
  readonly rows: TimelineRow[] = [];
  #start = 0;

  start(at: number): void {
    this.#start = at;
  }

  #row(now: number): TimelineRow | undefined {
    if (this.#start === 0 || now < this.#start) return undefined;
    const t = Math.floor((now - this.#start) / 1000);
    if (t > 3600) return undefined;
    while (this.rows.length <= t) {
      this.rows.push({ t: this.rows.length, sent: 0, acked: 0, delivered: 0, pushes: 0, errors: 0, logins: 0, closes: 0, connected: null, serverRssMb: null, serverCpuPct: null });
    }
    return this.rows[t];
  }

  inc(counter: TimelineCounter, now: number, by = 1): void {
    const row = this.#row(now);
    if (row) row[counter] += by;
  }

  sample(now: number, values: Partial<Pick<TimelineRow, 'connected' | 'serverRssMb' | 'serverCpuPct' | 'procs'>>): void {
    const row = this.#row(now);
    if (row) Object.assign(row, values);
  }

  mark(now: number, event: string): void {
    const row = this.#row(now);
    if (row) (row.events ??= []).push(event);
  }

  /** Seconds of the run whose one-per-second sample never came. */
  missedSamples(): number {
    return this.rows.filter((r) => r.connected === null).length;
  }
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
