import { test } from 'node:test';
import assert from 'node:assert/strict';
import { svgLines } from '../../tools/load/report.ts';
import { Timeline } from '../../tools/load/stats.ts';

test('the load report draws a missed timeline sample as a gap, not a dip to 0, and counts it', () => {
  const timeline = new Timeline();
  const start = 1_000_000;
  timeline.start(start);
  for (const t of [0, 1, 2, 4, 5]) timeline.sample(start + t * 1000 + 10, { connected: 100, serverRssMb: 300 });
  timeline.inc('sent', start + 3500);
  assert.equal(timeline.missedSamples(), 1);
  const svg = svgLines('connections', timeline.rows, [{ key: 'connected', label: 'live', color: '#000' }], 'count');
  const lines = [...svg.matchAll(/<polyline[^>]*points="([^"]*)"/g)].map((m) => m[1]!.split(' ').length);
  assert.deepEqual(lines, [3, 2], 'two runs of points around the missing second');
});
