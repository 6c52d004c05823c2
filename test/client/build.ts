/**
 * Tests that need client/dist (the packed package, the browser pages) call ensureClientBuilt():
 * it runs the build only when dist is older than its sources, one process at a time (a lock
 * directory), so concurrent test files never see a half-written dist. `npm test` builds first,
 * so there it does nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repo = resolve(import.meta.dirname, '../..');
const dist = join(repo, 'client/dist/index.js');
const lock = join(repo, 'client/.tsbuild-lock');

function newestSource(): number {
  const files = [
    ...readdirSync(join(repo, 'client/src')).map((f) => join(repo, 'client/src', f)),
    ...readdirSync(join(repo, 'protocol')).map((f) => join(repo, 'protocol', f)),
    join(repo, 'client/scripts/build.mjs'), join(repo, 'client/tsconfig.json'), join(repo, 'client/tsconfig.protocol.json'),
  ];
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

function isFresh(): boolean {
  try {
    return statSync(dist).mtimeMs >= newestSource();
  } catch {
    return false;
  }
}

export function ensureClientBuilt(): void {
  if (isFresh()) return;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`could not take ${lock}; remove it if no build is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!isFresh()) execFileSync(process.execPath, [join(repo, 'client/scripts/build.mjs')], { stdio: 'inherit' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
