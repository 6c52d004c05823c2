/**
 * `npm run bench`: run every `tools/bench/*.ts` except this file, one at a time, each in its own
 * child process with modest sizes, and print their output. Each bench is bounded in time here
 * too; a failing or hung bench is reported and the rest still run. Exit code 1 only if a bench
 * crashed or timed out (benches print their targets; they do not fail the run on them).
 *
 *   node --import tsx tools/bench/run-all.ts [--only core] [--timeout 180]
 *   node --import tsx tools/bench/run-all.ts --curve     the cost curves (tools/bench/curves.ts), minutes long
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SELF = basename(fileURLToPath(import.meta.url));

/** Modest sizes per bench; benches without an entry run with their own defaults. */
const SIZES: Record<string, string[]> = {
  core: ['--clients', '50', '--inflight', '10', '--seconds', '5'],
  fanout: ['--members', '100', '--senders', '5', '--inflight', '10', '--seconds', '3'],
  'peer-ejabberd': ['--clients', '50', '--inflight', '10', '--seconds', '3'],
  socketio: ['--clients', '50', '--inflight', '10', '--seconds', '3'],
};

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    timeout: { type: 'string', default: '180' },
    // The cost curves (tools/bench/curves.ts): many runs, minutes long, so only on request.
    curve: { type: 'boolean', default: false },
  },
  strict: true,
});
const timeoutSec = Number(values.timeout);
if (!(timeoutSec > 0 && timeoutSec <= 3600)) {
  console.error('--timeout must be in (0, 3600] seconds');
  process.exit(2);
}

if (values.curve) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'curves.ts')], { cwd: REPO_ROOT, stdio: 'inherit' });
  child.once('exit', (code) => process.exit(code ?? 1));
} else await runAll();

async function runAll(): Promise<void> {
  const benches = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== SELF && f !== 'curves.ts')
    .map((f) => f.slice(0, -3))
    .filter((name) => !values.only || values.only.includes(name))
    .sort();

  if (benches.length === 0) {
    console.error(`no benches to run in ${BENCH_DIR}${values.only ? ` matching ${values.only.join(', ')}` : ''}`);
    process.exit(2);
  }

  let current: ReturnType<typeof spawn> | undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      current?.kill('SIGTERM');
      process.exit(130);
    });
  }

  function runBench(name: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; ms: number }> {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, `${name}.ts`), ...(SIZES[name] ?? [])], {
      cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'],
    });
    current = child;
    let timedOut = false;
    // SIGTERM first so the bench can stop its own children; SIGKILL if it does not go.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, timeoutSec * 1000);
    return new Promise((resolve) => {
      child.once('error', (error) => {
        console.error(`${name}: ${error.message}`);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        current = undefined;
        resolve({ code, signal, timedOut, ms: Date.now() - started });
      });
    });
  }

  const summary: string[] = [];
  for (const name of benches) {
    console.log(`\n=== tools/bench/${name}.ts ${(SIZES[name] ?? []).join(' ')}`.trimEnd());
    const { code, signal, timedOut, ms } = await runBench(name);
    const status = timedOut ? `TIMED OUT after ${timeoutSec} s` : code === 0 ? 'ok' : `FAILED (code ${code}${signal ? `, ${signal}` : ''})`;
    summary.push(`${name.padEnd(16)} ${status} (${(ms / 1000).toFixed(1)} s)`);
    if (timedOut || code !== 0) process.exitCode = 1;
  }
  console.log(`\n=== summary\n${summary.join('\n')}`);
}
