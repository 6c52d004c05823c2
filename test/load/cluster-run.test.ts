/**
 * `tidings load --cluster 2 --kill-node-at`, end to end, as a user runs it: the tool starts its
 * own PostgreSQL (tools/ci/postgres.sh), redis-server, fake vendors and two nodes, kills one
 * mid-run, and its accounting still finds every message delivered exactly once over the sockets
 * and every push made exactly once (MSG-4 after the dead node's presence expired, OPS-3 for what
 * it had claimed). Figures are the tool's to report, not this test's to judge: no timings here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../../tools/load/report.ts';
import { runLoad } from '../helpers/load-run.ts';

// TIDINGS_TEST_PG_URL is set by the PostgreSQL suite (tools/ci/postgres.sh run): PostgreSQL's tools
// are installed there. The load tool starts a cluster of its own with them, not that one.
const skip = process.env.TIDINGS_TEST_PG_URL ? false : 'needs PostgreSQL installed: TIDINGS_TEST_PG_URL is not set (the PostgreSQL suite, tools/ci/suite-postgres.sh, runs this)';

test('MSG-4/OPS-3 tidings load --cluster 2 --kill-node-at 8s: zero loss and zero duplicates over sockets and pushes, the kill and both nodes in the report', { skip, timeout: 240_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tidings-load-cluster-test-'));
  try {
    const { code, output } = await runLoad(['--cluster', '2', '--devices', '60', '--duration', '20s', '--drain', '20s', '--kill-node-at', '8s', '--out', out], 200_000);
    assert.equal(code, 0, `exit code ${code}\n${output}`);
    assert.match(output, /VERDICT: zero loss, zero duplicates/);
    const file = readdirSync(out).find((f) => f.endsWith('.json'));
    assert.ok(file, `no JSON report in ${out}\n${output}`);
    const report = JSON.parse(readFileSync(join(out, file), 'utf8')) as RunReport;
    const { socket, calls, push, verdict } = report.accounting;

    assert.equal(report.target.mode, 'cluster');
    assert.ok(socket.expectedDeliveries > 0, 'messages were exchanged');
    assert.equal(socket.deliveredOnce, socket.expectedDeliveries);
    assert.deepEqual([socket.lostCount, socket.duplicateCount, socket.inboxConflicts.length], [0, 0, 0], 'socket: nothing lost, nothing twice');
    assert.equal(calls.lostCount, 0);
    assert.deepEqual([push.lostCount, push.duplicateCount], [0, 0], 'push: nothing lost, nothing twice');
    assert.deepEqual(verdict, { lost: 0, duplicated: 0, unverified: 0, pass: true });

    const cluster = report.cluster!;
    assert.ok(cluster, 'the report has its cluster section');
    assert.deepEqual(cluster.nodes.map((n) => [n.id, n.killed]), [['node1', false], ['node2', true]]);
    for (const node of cluster.nodes) {
      assert.ok(node.pid > 0 && node.rssPeakBytes !== null && node.cpuAvgPct !== null, `${node.id} has its CPU and RSS`);
    }
    assert.equal(cluster.kill?.node, 'node2');
    assert.ok(cluster.kill.afterRunStartMs >= 8000, 'killed at --kill-node-at, not before');
    assert.ok(report.timeline.some((row) => row.events?.some((e) => e.startsWith('node2 killed'))), 'the kill is on the timeline');
    assert.ok(report.notes.some((n) => n.startsWith('kill accounting:')), 'the report says how the kill was accounted');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
