/**
 * The load tool's per-window latency record and its "cost against history" line: which window a
 * sample counts in (its send's), where the windows and the drift spans lie, and that the drift
 * compares percentiles of the spans' own samples rather than an average of window percentiles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMITS, resolveOptions, UsageError } from '../../tools/load/options.ts';
import { driftLine, windowChart, windowLines } from '../../tools/load/report.ts';
import { driftSpans, historyDrift, latencyWindows, WindowedLatencies } from '../../tools/load/stats.ts';

const START = 50_000; // performance.now() when the run starts

test('a sample counts in the window of its send, not of its ack; before the run nothing counts, a late tick folds into the last window', () => {
  const w = new WindowedLatencies(10_000, 40_000);
  w.add(START + 1000, 5); // before start(): setup, not a window
  w.start(START);
  w.add(START - 1, 7); // sent before the run started
  w.add(START + 500, 5);
  w.add(START + 9_999, 100); // acked 10.099 s in: still the first window's
  w.add(START + 10_000, 20);
  w.add(START + 25_000, 30);
  w.add(START + 40_050, 40); // the ticker a few ms past the planned end
  const windows = w.windows();
  assert.deepEqual(windows.map((x) => [x.fromS, x.toS, x.summary.n]), [[0, 10, 2], [10, 20, 1], [20, 30, 1], [30, 40, 1]]);
  assert.deepEqual([windows[0]!.summary.p50, windows[0]!.summary.max], [5, 100]);
  assert.equal(windows[3]!.summary.max, 40);
});

test('windows cover the planned run exactly: the last one is cut at the duration, an empty one has n 0 and no percentiles', () => {
  const w = new WindowedLatencies(10_000, 45_000);
  w.start(START);
  w.add(START + 1000, 3);
  const windows = w.windows();
  assert.deepEqual(windows.map((x) => [x.fromS, x.toS]), [[0, 10], [10, 20], [20, 30], [30, 40], [40, 45]]);
  assert.equal(windows[1]!.summary.n, 0);
  assert.ok(Number.isNaN(windows[1]!.summary.p50));
  // A window wider than the run: one window, the run.
  assert.deepEqual(new WindowedLatencies(60_000, 20_000).windows().map((x) => [x.fromS, x.toS]), [[0, 20]]);
});

test('drift spans: first and last 2 minutes from 4 minutes up, thirds below', () => {
  assert.deepEqual(driftSpans(20 * 60_000), { basis: '2m', first: { fromS: 0, toS: 120 }, last: { fromS: 1080, toS: 1200 } });
  assert.deepEqual(driftSpans(4 * 60_000), { basis: '2m', first: { fromS: 0, toS: 120 }, last: { fromS: 120, toS: 240 } });
  assert.deepEqual(driftSpans(30_000), { basis: 'thirds', first: { fromS: 0, toS: 10 }, last: { fromS: 20, toS: 30 } });
});

test('drift: percentiles of the samples sent in the first and last 2 minutes, last ÷ first; the middle of the run does not count', () => {
  const w = new WindowedLatencies(60_000, 20 * 60_000);
  w.start(START);
  for (let i = 1; i <= 100; i++) w.add(START + i * 1000, i); // 1..100 ms over the first 100 s
  for (let i = 0; i < 1000; i++) w.add(START + 300_000 + i * 100, 10_000); // slow middle: in no span
  for (let i = 1; i <= 100; i++) w.add(START + 1_080_000 + i * 1000, 2 * i); // 2..200 ms in the last 2 minutes
  const d = w.drift();
  assert.deepEqual([d.first.n, d.first.p50, d.first.p99], [100, 50, 99]);
  assert.deepEqual([d.last.n, d.last.p50, d.last.p99], [100, 100, 198]);
  assert.equal(d.p50Ratio, 2);
  assert.equal(d.p99Ratio, 2);
});

test('drift is not an average of window percentiles: a span over two uneven windows is one pool of samples', () => {
  const w = new WindowedLatencies(60_000, 20 * 60_000);
  w.start(START);
  for (let i = 0; i < 99; i++) w.add(START + 1000 + i, 10); // window 0: 99 fast sends
  w.add(START + 70_000, 1000); // window 1: one slow send
  for (let i = 0; i < 100; i++) w.add(START + 1_100_000 + i, 10);
  const [w0, w1] = w.windows();
  assert.equal((w0!.summary.p50 + w1!.summary.p50) / 2, 505, 'the average of the two windows\' p50s');
  const d = w.drift();
  assert.equal(d.first.p50, 10, 'the pooled p50 of the first 2 minutes');
  assert.equal(d.first.p99, 10);
  assert.equal(d.first.max, 1000);
  assert.equal(d.p50Ratio, 1);
});

test('drift over thirds of a short run; no ratio without samples in both spans', () => {
  const w = new WindowedLatencies(10_000, 30_000);
  w.start(START);
  w.add(START + 9_999, 4);
  w.add(START + 10_000, 1000); // the middle third
  w.add(START + 19_999, 1000);
  w.add(START + 20_000, 6);
  const d = w.drift();
  assert.deepEqual([d.first.n, d.last.n], [1, 1]);
  assert.equal(d.p50Ratio, 1.5);
  const empty = new WindowedLatencies(10_000, 30_000);
  empty.start(START);
  empty.add(START + 25_000, 6);
  assert.deepEqual([empty.drift().p50Ratio, empty.drift().p99Ratio], [null, null]);
});

test('the report: both series per window, one text line per window however many, the drift line says which spans', () => {
  const ack = new WindowedLatencies(60_000, 20 * 60_000);
  const deliver = new WindowedLatencies(60_000, 20 * 60_000);
  ack.start(START);
  deliver.start(START);
  for (let s = 0; s < 1200; s++) {
    ack.add(START + s * 1000, 10 + s / 100);
    deliver.add(START + s * 1000, 20);
  }
  const windows = latencyWindows(ack, deliver);
  assert.equal(windows.length, 20);
  assert.equal(windows.reduce((sum, x) => sum + x.sendToAck.n, 0), 1200);
  assert.deepEqual([windows[0]!.sendToDeliver.n, windows[0]!.sendToDeliver.p50], [60, 20]);
  const lines = windowLines({ latencyWindows: windows, options: { latencyWindow: '1m' } });
  assert.equal(lines.length, 2 + 20, 'a title, a header, one line per window');
  assert.match(lines[2]!, /^ {2}0–60s +60 +10\.\d+ ms +10\.\d+ ms$/);
  assert.match(lines.at(-1)!, /^ {2}1140–1200s +60 /);
  const drift = historyDrift(ack, deliver);
  assert.equal(drift.sendToDeliver.p50Ratio, 1);
  assert.match(driftLine(drift), /^cost against history {2}last 2m vs first 2m of the run, by send time: send→ack p50 ×2\.02 .*send→deliver p50 ×1\.00.*not part of the verdict/);

  const short = new WindowedLatencies(10_000, 40_000);
  assert.match(driftLine(historyDrift(short, short)), /last third \(26\.7–40s\) vs first third \(0–13\.3s\) of the run \(shorter than 4m\).*p50 - \(- → -\)/);
});

test('the window chart leaves an empty window as a gap (a lone window is a dot), not a 0', () => {
  const ack = new WindowedLatencies(10_000, 40_000);
  const deliver = new WindowedLatencies(10_000, 40_000);
  ack.start(START);
  deliver.start(START);
  for (const t of [1000, 11_000, 31_000]) ack.add(START + t, 5); // window 2 (20–30 s) empty
  const svg = windowChart(latencyWindows(ack, deliver), 40);
  // send→ack p50 and p99: a line through windows 0 and 1, then a dot for window 3; send→deliver has no points.
  assert.equal([...svg.matchAll(/<polyline[^>]*points="([^"]*)"/g)].map((m) => m[1]!.split(' ').length).join(), '2,2');
  assert.equal([...svg.matchAll(/<circle /g)].length, 2);
  assert.doesNotMatch(svg, /NaN/);
});

test('tidings load --latency-window: a duration, 60s by default, from 5s to 10m', () => {
  assert.equal(resolveOptions({}).latencyWindowMs, 60_000);
  assert.equal(resolveOptions({ latencyWindow: '10s' }).latencyWindowMs, 10_000);
  assert.equal(resolveOptions({ latencyWindow: '1m30s' }).latencyWindowMs, 90_000);
  assert.equal(resolveOptions({ latencyWindow: '5s' }).latencyWindowMs, LIMITS.minLatencyWindowMs);
  assert.equal(resolveOptions({ latencyWindow: '10m' }).latencyWindowMs, LIMITS.maxLatencyWindowMs);
  for (const bad of ['4s', '4999ms', '11m', '0']) {
    assert.throws(() => resolveOptions({ latencyWindow: bad }), (e: unknown) => e instanceof UsageError && /--latency-window must be between 5s and 10m/.test(e.message));
  }
  assert.throws(() => resolveOptions({ latencyWindow: 'soon' }), (e: unknown) => e instanceof UsageError && /not a duration/.test(e.message));
});
