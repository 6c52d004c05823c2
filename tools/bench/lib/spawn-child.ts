import { spawn, type ChildProcess } from 'node:child_process';
import { liveChildren, REPO_ROOT, trackChild } from '../../lib/children.ts';

/** Repository root, used as cwd so `--import tsx` resolves; /proc readings shared with `tidings load`. */
export { cpuSecondsOf, REPO_ROOT } from '../../lib/children.ts';

export interface ChildHandle {
  readonly child: ChildProcess;
  /** The JSON object the child printed on its first stdout line (e.g. `{ "url": ... }`). */
  readonly ready: Record<string, unknown>;
  readonly pid: number;
  /** Ask the child to stop (SIGTERM, so --cpu-prof is written), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

let signalsHooked = false;

/** An interrupted bench stops its children with SIGTERM (servers clean up their temp data dirs) before exiting. */
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // The exit hook of trackChild() SIGKILLs stragglers.
      const waits = [...liveChildren()].map((child) => new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }));
      const timer = setTimeout(() => process.exit(130), 3000);
      void Promise.all(waits).then(() => {
        clearTimeout(timer);
        process.exit(130);
      });
    });
  }
}

/**
 * Start `node [nodeArgs] --import tsx <script> [args]` and wait until it prints a JSON line on
 * stdout. stdin stays piped: children exit when it closes, so they die with the parent.
 */
export function spawnTsChild(script: string, args: string[], options: { nodeArgs?: string[]; timeoutMs?: number; label?: string } = {}): Promise<ChildHandle> {
  hookSignals();
  const label = options.label ?? script;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env },
  });
  const tracked = trackChild(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });

  const stop = (graceMs = 5000): Promise<void> => tracked.stop(graceMs);

  return new Promise<ChildHandle>((resolve, reject) => {
    let buffered = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop(500);
      reject(new Error(`${label}: ${why}${stderr ? `\n--- child stderr ---\n${stderr}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${options.timeoutMs ?? 20000} ms`), options.timeoutMs ?? 20000);
    const onError = (error: Error) => fail(error.message);
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited early (code ${code}, signal ${signal})`);
    child.once('error', onError);
    child.once('exit', onEarlyExit);
    child.stdout!.setEncoding('utf8').on('data', function onData(chunk: string) {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      child.off('exit', onEarlyExit);
      child.off('error', onError);
      child.on('error', () => undefined);
      clearTimeout(timer);
      let ready: Record<string, unknown>;
      try {
        ready = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
      } catch {
        fail(`first stdout line is not JSON: ${buffered.slice(0, nl)}`);
        return;
      }
      resolve({ child, ready, pid: child.pid!, stop });
    });
  });
}
