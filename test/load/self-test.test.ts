/**
 * The load tool's accounting catches what it exists to catch (OPS-3): a device that resyncs one
 * event too early sees a duplicate, a device that ignores an event loses it, and the verdict
 * says FAILED. Without these, a broken accounting would report every run as a pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../../tools/load/report.ts';
import { runLoad } from '../helpers/load-run.ts';

test('OPS-3 tidings load: injected early resyncs and ignored events fail the verdict as duplicates and losses', { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tidings-load-selftest-'));
  try {
    const { code, output } = await runLoad(['--devices', '60', '--duration', '20s', '--drain', '10s', '--rate', '30', '--latency-window', '5s', '--inject-fault', 'dup-sync:1,drop-event:0.05', '--out', out], 150_000);
    assert.equal(code, 1, `exit code ${code}\n${output}`);
    const verdict = /VERDICT: FAILED \((\d+) lost, (\d+) duplicated\)/.exec(output);
    assert.ok(verdict, output);
    assert.ok(Number(verdict[1]) > 0, `the ignored events are lost\n${output.slice(-3000)}`);
    assert.ok(Number(verdict[2]) > 0, `the early resyncs are duplicates\n${output.slice(-3000)}`);
    assert.match(output, /SELF-TEST: faults injected/);

    // The per-window latency record holds every send→ack and send→deliver sample of the run, each in one window.
    const file = readdirSync(out).find((f) => f.endsWith('.json'));
    assert.ok(file, `no JSON report in ${out}\n${output.slice(-3000)}`);
    const report = JSON.parse(readFileSync(join(out, file), 'utf8')) as RunReport;
    assert.deepEqual(report.latencyWindows.map((w) => [w.fromS, w.toS]), [[0, 5], [5, 10], [10, 15], [15, 20]]);
    assert.ok(report.latency.sendToAck.n > 0, 'sends were acked');
    assert.equal(report.latencyWindows.reduce((sum, w) => sum + w.sendToAck.n, 0), report.latency.sendToAck.n);
    assert.equal(report.latencyWindows.reduce((sum, w) => sum + w.sendToDeliver.n, 0), report.latency.sendToDeliver.n);
    assert.equal(report.historyDrift.basis, 'thirds');
    assert.ok(report.historyDrift.sendToAck.first.n > 0 && report.historyDrift.sendToAck.last.n > 0, 'both drift spans have samples');
    assert.match(output, /send→ack by window \(5s each, by send time\)/);
    assert.match(output, /cost against history {2}last third/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
