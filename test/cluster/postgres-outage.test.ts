/**
 * PostgreSQL holds the log: while it is down nothing is accepted that cannot be stored. Sends and
 * logins are refused with a retryable error (never hung, never acked), the nodes stay up, and once
 * it is back the same sends succeed and are delivered once (LOG-1, LOG-2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestClient } from '../helpers/client.ts';
import { eventually, sleep } from '../helpers/server.ts';
import { TrackedDevice } from '../reliability/harness.ts';
import { NEEDS_POSTGRES, startCluster } from './harness.ts';

const run = promisify(execFile);
const PG = 'tools/ci/postgres.sh';

test('LOG-1 across nodes: PostgreSQL stopped mid-run: sends and logins are refused retryably, nothing is acked; afterwards they succeed and arrive once', { skip: NEEDS_POSTGRES, timeout: 120_000 }, async () => {
  // A PostgreSQL of this test's own, so stopping it leaves the suite's alone.
  const dir = mkdtempSync(join(tmpdir(), 'tpg-'));
  const url = (await run('bash', [PG, 'start', dir])).stdout.trim();
  const cluster = await startCluster({ nodes: 2, databaseUrl: url });
  try {
    const bob = new TrackedDevice('p-bob', 'p-bob-phone');
    await bob.connect(cluster.url(1), cluster.token('p-bob'));
    const pinger = setInterval(() => { if (bob.online) bob.client!.send({ type: 'ping' }); }, 250);
    pinger.unref();
    const alice = await cluster.connect(0, 'p-alice', 'p-alice-web', 'web');
    const acked: string[] = [];
    const ack0 = await alice.sendText({ user: 'p-bob' }, 'before', 'p-0');
    assert.ok(ack0.type === 'send_ack');
    acked.push(ack0.messageId);

    await run('bash', [PG, 'stop', dir]);
    const during = await alice.sendText({ user: 'p-bob' }, 'during', 'p-1');
    assert.ok(during.type === 'error' && during.retryable, `refused retryably, not acked: ${JSON.stringify(during)}`);
    const late = await TestClient.connect(cluster.url(1));
    late.send({ type: 'login', token: cluster.token('p-carol'), deviceId: 'p-carol-phone', platform: 'android' });
    const refused = await late.waitFor((f) => f.type === 'error' || f.type === 'login_ok', 20_000, 'login answer');
    assert.ok(refused.type === 'error' && refused.retryable, `login refused retryably: ${JSON.stringify(refused)}`);
    late.socket.terminate();

    await run('bash', [PG, 'start', dir]);
    // The client's retry of the same message: stored now, once.
    const retried = await eventually(async () => {
      const ack = await alice.sendText({ user: 'p-bob' }, 'during', 'p-1');
      return ack.type === 'send_ack' ? ack : undefined;
    }, 30_000, 'the retried send is accepted');
    acked.push(retried.messageId);
    const ack2 = await alice.sendText({ user: 'p-bob' }, 'after', 'p-2');
    assert.ok(ack2.type === 'send_ack');
    acked.push(ack2.messageId);
    await eventually(() => bob.messageIds().length === 3, 15_000, 'bob has the three stored messages');
    await sleep(500);
    assert.deepEqual(bob.messageIds(), acked);
    assert.deepEqual([bob.duplicates, bob.gaps], [[], []]);
    const carol = await cluster.connect(1, 'p-carol', 'p-carol-phone', 'android');
    await carol.close();
    for (const n of cluster.nodes) assert.equal(n?.process.exitCode, null, 'no node crashed');
    clearInterval(pinger);
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.output()}`);
  } finally {
    await cluster.stop();
    await run('bash', [PG, 'stop', dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
