import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, TEST_SECRET } from '../helpers/server.ts';

const run = promisify(execFile);

test('a second `tidings serve` on a port in use says so in one line and exits 2', async () => {
  const t = await startTestServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-port-'));
  try {
    const port = new URL(t.httpUrl).port;
    const outcome = await run(process.execPath, ['bin/tidings.mjs', 'serve', '--port', port, '--data-dir', dataDir, '--log-level', 'silent',
      '--transport', process.env.TIDINGS_TEST_TRANSPORT ?? 'ws'], {
      env: { ...process.env, TIDINGS_AUTH_SECRETS: TEST_SECRET }, timeout: 30_000,
    }).then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => error);
    assert.equal(outcome.code, 2);
    assert.equal(outcome.stderr.trim(), `cannot listen on 127.0.0.1:${port}: the address is in use (another tidings running?); choose another port with --port or TIDINGS_PORT`);
  } finally {
    await t.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
