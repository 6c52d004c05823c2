import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminApi } from '../../tools/load/push-source.ts';
import { parseHistogram, quantile, RunHistogram, SEND_ACK_METRIC } from '../../tools/load/server-metrics.ts';
import { startTestServer } from '../helpers/server.ts';

const EXPOSITION = `# HELP x_seconds help
# TYPE x_seconds histogram
x_seconds_bucket{le="0.01"} 10
x_seconds_bucket{le="0.1"} 90
x_seconds_bucket{le="1"} 100
x_seconds_bucket{le="+Inf"} 100
x_seconds_sum 12.5
x_seconds_count 100
x_seconds_other 7
`;

test('the load report reads a Prometheus histogram and interpolates its quantiles inside the bucket', () => {
  const h = parseHistogram(EXPOSITION, 'x_seconds');
  assert.ok(h);
  assert.deepEqual(h.buckets, [[0.01, 10], [0.1, 90], [1, 100], [Infinity, 100]]);
  assert.equal(h.count, 100);
  assert.equal(h.sum, 12.5);
  // The 50th of 100 samples is the 40th of the 80 in (0.01, 0.1].
  assert.ok(Math.abs(quantile(h, 0.5)! - (0.01 + 0.09 * 40 / 80)) < 1e-12);
  assert.ok(Math.abs(quantile(h, 0.99)! - (0.1 + 0.9 * 9 / 10)) < 1e-12);
  assert.equal(quantile({ buckets: [[1, 0], [Infinity, 0]], count: 0, sum: 0 }, 0.5), null);
  assert.equal(parseHistogram(EXPOSITION, 'y_seconds'), undefined);
});

test('tidings_send_ack_seconds counts each acked send once, and the load report reads it over the run only', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    await alice.sync();
    assert.equal((await alice.sendText({ user: 'bob' }, 'before the run', 'm0')).type, 'send_ack');
    const run = new RunHistogram(SEND_ACK_METRIC, [t.httpUrl]);
    await run.markStart();
    for (let i = 1; i <= 5; i++) assert.equal((await alice.sendText({ user: 'bob' }, `in the run ${i}`, `m${i}`)).type, 'send_ack');
    // A refused send is not a send_ack.
    assert.equal((await alice.request({ type: 'send', clientMsgId: 'big', to: { user: 'bob' }, content: { type: 'text', text: 'x'.repeat(t.config.limits.maxMessageBytes + 1) } })).type, 'error');
    const result = await run.result();
    assert.equal(result.count, 5);
    assert.equal(result.nodesMissed, 0);
    assert.ok(result.p50Ms !== null && result.p50Ms > 0 && result.p50Ms <= result.p99Ms!);
    assert.ok(result.meanMs !== null && result.meanMs > 0);
  } finally {
    await t.stop();
  }
});

test('with --url the load tool reads the server\'s RSS from its /metrics', async () => {
  const t = await startTestServer();
  try {
    const rss = await new AdminApi(t.httpUrl, 'unused-admin-secret-0123456789').rssBytes();
    assert.ok(rss !== undefined && rss > 10 * 1024 * 1024, `RSS read: ${rss}`);
  } finally {
    await t.stop();
  }
});
