/**
 * The server's own view of a run, from its /metrics: `tidings_send_ack_seconds`, read at the run's
 * start and end on every node, so the report can set the server's share of send→ack beside what
 * the devices measured (the rest is the loopback network and the two processes' event loops).
 */

/** A Prometheus histogram: cumulative counts per upper bound (`le`), ascending, +Inf last. */
export interface HistogramSnapshot {
  buckets: Array<[le: number, cumulative: number]>;
  count: number;
  sum: number;
}

export interface ServerLatency {
  metric: string;
  count: number;
  /** Linear inside the bucket that holds the quantile; null without samples. */
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  meanMs: number | null;
  /** Nodes whose /metrics could not be read at both ends (a killed node, for one). */
  nodesMissed: number;
}

export const SEND_ACK_METRIC = 'tidings_send_ack_seconds';

/** Parses one histogram out of a Prometheus text exposition; undefined when it is not there. */
export function parseHistogram(text: string, name: string): HistogramSnapshot | undefined {
  const buckets: Array<[number, number]> = [];
  let count: number | undefined;
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    const bucket = /^_bucket\{(?:[^}]*,)?le="([^"]+)"[^}]*\}\s+(\S+)/.exec(rest);
    if (bucket) {
      buckets.push([bucket[1] === '+Inf' ? Infinity : Number(bucket[1]), Number(bucket[2])]);
      continue;
    }
    const total = /^_(count|sum)(?:\{[^}]*\})?\s+(\S+)/.exec(rest);
    if (total?.[1] === 'count') count = Number(total[2]);
    else if (total?.[1] === 'sum') sum = Number(total[2]);
  }
  if (buckets.length === 0 || count === undefined || sum === undefined) return undefined;
  buckets.sort((a, b) => a[0] - b[0]);
  return { buckets, count, sum };
}

/** `a + sign × b`, bucket by bucket (the same buckets: one metric of one server version). */
function combine(a: HistogramSnapshot, b: HistogramSnapshot, sign: 1 | -1): HistogramSnapshot {
  return {
    buckets: a.buckets.map(([le, c], i) => [le, c + sign * (b.buckets[i]?.[1] ?? 0)]),
    count: a.count + sign * b.count,
    sum: a.sum + sign * b.sum,
  };
}

/** `later − earlier` of one node's histogram. */
export const difference = (later: HistogramSnapshot, earlier: HistogramSnapshot) => combine(later, earlier, -1);

/** Several nodes' histograms as one. */
export function total(parts: HistogramSnapshot[]): HistogramSnapshot | undefined {
  return parts.length === 0 ? undefined : parts.reduce((acc, h) => combine(acc, h, 1));
}

/** The q-quantile in seconds, linear inside its bucket; the last finite bound when it falls in +Inf. */
export function quantile(h: HistogramSnapshot, q: number): number | null {
  if (h.count <= 0) return null;
  const rank = q * h.count;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of h.buckets) {
    if (cumulative >= rank) {
      if (le === Infinity) return lower;
      const inBucket = cumulative - below;
      return inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
    }
    if (le !== Infinity) lower = le;
    below = cumulative;
  }
  return lower;
}

/** A server's /metrics text, or undefined when it does not answer (stopped, killed, slow). */
export async function metricsText(httpUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

export async function readHistogram(httpUrl: string, name: string): Promise<HistogramSnapshot | undefined> {
  const text = await metricsText(httpUrl);
  return text === undefined ? undefined : parseHistogram(text, name);
}

/** Reads a histogram on every node at the run's start, then gives its run-long figure at the end. */
export class RunHistogram {
  readonly #name: string;
  readonly #urls: string[];
  #start: Array<HistogramSnapshot | undefined> = [];

  constructor(name: string, httpUrls: string[]) {
    this.#name = name;
    this.#urls = httpUrls;
  }

  async markStart(): Promise<void> {
    this.#start = await Promise.all(this.#urls.map((url) => readHistogram(url, this.#name)));
  }

  async result(): Promise<ServerLatency> {
    const end = await Promise.all(this.#urls.map((url) => readHistogram(url, this.#name)));
    const parts: HistogramSnapshot[] = [];
    end.forEach((later, i) => {
      const earlier = this.#start[i];
      if (later && earlier) parts.push(difference(later, earlier));
    });
    const h = total(parts);
    const ms = (s: number | null) => (s === null ? null : s * 1000);
    return {
      metric: this.#name,
      count: h?.count ?? 0,
      p50Ms: h ? ms(quantile(h, 0.5)) : null,
      p95Ms: h ? ms(quantile(h, 0.95)) : null,
      p99Ms: h ? ms(quantile(h, 0.99)) : null,
      meanMs: h && h.count > 0 ? (h.sum / h.count) * 1000 : null,
      nodesMissed: this.#urls.length - parts.length,
    };
  }
}
