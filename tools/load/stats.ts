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

/** One window of the run: send→ack and send→deliver of the messages sent in [fromS, toS). */
export interface LatencyWindow {
  fromS: number;
  toS: number;
  sendToAck: LatencySummary;
  sendToDeliver: LatencySummary;
}

/** One series in the first and the last span of the run, and last ÷ first (null without samples in both). */
export interface DriftSeries {
  first: LatencySummary;
  last: LatencySummary;
  p50Ratio: number | null;
  p99Ratio: number | null;
}

/** "Cost against history": the last span of the run against the first. Informational, not part of the verdict. */
export interface HistoryDrift {
  /** `2m`: first and last 2 minutes; `thirds`: first and last third (runs shorter than 4 minutes). */
  basis: '2m' | 'thirds';
  first: { fromS: number; toS: number };
  last: { fromS: number; toS: number };
  sendToAck: DriftSeries;
  sendToDeliver: DriftSeries;
}

/** Reservoir of one window; below it when there are many windows, so all windows together stay within the budget. */
export const WINDOW_CAP = 100_000;
/** Samples kept over all windows of one series: as many as the whole-run reservoir (a 30-minute run in 5 s windows: 360 × 5,555). */
export const WINDOW_SAMPLE_BUDGET = 2_000_000;
/** Reservoir of each drift span (2 minutes at most). */
const SPAN_CAP = 200_000;
const DRIFT_SPAN_MS = 120_000;

/** The spans the drift line compares: the first and last 2 minutes, or thirds when 2 minutes would overlap (< 4 min). */
export function driftSpans(durationMs: number): Pick<HistoryDrift, 'basis' | 'first' | 'last'> {
  const basis = durationMs >= 2 * DRIFT_SPAN_MS ? '2m' : 'thirds';
  const span = basis === '2m' ? DRIFT_SPAN_MS : durationMs / 3;
  return { basis, first: { fromS: 0, toS: span / 1000 }, last: { fromS: (durationMs - span) / 1000, toS: durationMs / 1000 } };
}

const ratio = (last: number, first: number): number | null => (Number.isFinite(last) && Number.isFinite(first) && first > 0 ? last / first : null);

/**
 * One latency series (send→ack or send→deliver) split by the window of the run its send fell
 * in, plus the drift line's first and last span. A sample counts where its *send* happened, not
 * where its ack or delivery came: the send is when the load it measures was offered, so a slow
 * sample stays in the window that caused it instead of sliding into the next one, and the drain
 * (no new sends, only the stragglers of the last window) does not become a window of its own
 * made of the slowest samples. Send and sample times are on one clock (performance.now()).
 */
export class WindowedLatencies {
  readonly windowMs: number;
  readonly durationMs: number;
  readonly #windows: Latencies[];
  readonly #first = new Latencies(SPAN_CAP);
  readonly #last = new Latencies(SPAN_CAP);
  readonly #spans: Pick<HistoryDrift, 'basis' | 'first' | 'last'>;
  readonly #firstToMs: number;
  readonly #lastFromMs: number;
  #start: number | undefined;

  constructor(windowMs: number, durationMs: number) {
    this.windowMs = windowMs;
    this.durationMs = durationMs;
    const count = Math.max(1, Math.ceil(durationMs / windowMs));
    const cap = Math.max(1, Math.min(WINDOW_CAP, Math.floor(WINDOW_SAMPLE_BUDGET / count)));
    this.#windows = Array.from({ length: count }, () => new Latencies(cap));
    this.#spans = driftSpans(durationMs);
    this.#firstToMs = this.#spans.first.toS * 1000;
    this.#lastFromMs = this.#spans.last.fromS * 1000;
  }

  /** The run starts (setup before it is not a window). */
  start(at: number): void {
    this.#start = at;
  }

  add(sentAt: number, ms: number): void {
    if (this.#start === undefined || !Number.isFinite(ms) || ms < 0) return;
    const t = sentAt - this.#start;
    // The tool sends nothing before the run starts, so this drops nothing in practice.
    if (t < 0) return;
    // A send a tick after the planned end (the 100 ms ticker racing the run's timer) folds into
    // the last window: the drain sends nothing new and has no window.
    this.#windows[Math.min(this.#windows.length - 1, Math.floor(t / this.windowMs))]!.add(ms);
    if (t < this.#firstToMs) this.#first.add(ms);
    if (t >= this.#lastFromMs) this.#last.add(ms);
  }

  /** Every window, empty ones included (n 0), in order; the last ends at the planned duration. */
  windows(): Array<{ fromS: number; toS: number; summary: LatencySummary }> {
    return this.#windows.map((w, i) => ({ fromS: (i * this.windowMs) / 1000, toS: Math.min((i + 1) * this.windowMs, this.durationMs) / 1000, summary: w.summary() }));
  }

  /** Percentiles of the samples sent in each span (not averages of window percentiles). */
  drift(): DriftSeries {
    const first = this.#first.summary();
    const last = this.#last.summary();
    return { first, last, p50Ratio: ratio(last.p50, first.p50), p99Ratio: ratio(last.p99, first.p99) };
  }

  get spans(): Pick<HistoryDrift, 'basis' | 'first' | 'last'> {
    return this.#spans;
  }
}

/** The report's per-window record: both series side by side (laid out alike: same window and duration). */
export function latencyWindows(ack: WindowedLatencies, deliver: WindowedLatencies): LatencyWindow[] {
  const d = deliver.windows();
  return ack.windows().map((w, i) => ({ fromS: w.fromS, toS: w.toS, sendToAck: w.summary, sendToDeliver: d[i]!.summary }));
}

export function historyDrift(ack: WindowedLatencies, deliver: WindowedLatencies): HistoryDrift {
  return { ...ack.spans, sendToAck: ack.drift(), sendToDeliver: deliver.drift() };
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
