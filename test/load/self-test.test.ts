/**
 * The load tool's accounting catches what it exists to catch (OPS-3): a device that resyncs one
 * event too early sees a duplicate, a device that ignores an event loses it, and the verdict
 * says FAILED. Without these, a broken accounting would report every run as a pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function runLoad(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/tidings.mjs', 'load', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-40_000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGINT'), 150_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('OPS-3 tidings load: injected early resyncs and ignored events fail the verdict as duplicates and losses', { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tidings-load-selftest-'));
  try {
    const { code, output } = await runLoad(['--devices', '60', '--duration', '20s', '--drain', '10s', '--rate', '30', '--inject-fault', 'dup-sync:1,drop-event:0.05', '--out', out]);
    assert.equal(code, 1, `exit code ${code}\n${output}`);
    const verdict = /VERDICT: FAILED \((\d+) lost, (\d+) duplicated\)/.exec(output);
    assert.ok(verdict, output);
    assert.ok(Number(verdict[1]) > 0, `the ignored events are lost\n${output.slice(-3000)}`);
    assert.ok(Number(verdict[2]) > 0, `the early resyncs are duplicates\n${output.slice(-3000)}`);
    assert.match(output, /SELF-TEST: faults injected/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
