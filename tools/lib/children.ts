/**
 * Child processes of the tools (load tool, benches): each is tracked so it never outlives this
 * process, and its CPU time and memory can be read from /proc.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Children started through trackChild() that have not exited yet. */
export function liveChildren(): ReadonlySet<ChildProcess> {
  return live;
}

/**
 * Follow a spawned child: it is SIGKILLed if this process exits first, and stop() asks with
 * SIGTERM (so it can clean up and write --cpu-prof) and SIGKILLs it after `graceMs`.
 */
export function trackChild(child: ChildProcess): Child {
  hookExit();
  live.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    live.delete(child);
    resolve(code);
  }));
  return {
    process: child, pid: child.pid!, exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resolve with the first stdout line matching `pattern` (or reject on exit / timeout). */
export function waitForLine(child: ChildProcess, pattern: RegExp, label: string, timeoutMs: number, stderr: () => string): Promise<{ match: RegExpExecArray; rest: string }> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => done(new Error(`${label} not ready after ${timeoutMs} ms\n${stderr()}`)), timeoutMs);
    const onExit = (code: number | null, signal: string | null) => done(new Error(`${label} exited early (code ${code}, signal ${signal})\n${stderr()}`));
    const onData = (chunk: string) => {
      buffered += chunk;
      for (;;) {
        const nl = buffered.indexOf('\n');
        if (nl < 0) return;
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const match = pattern.exec(line);
        if (match) {
          done(undefined, { match, rest: buffered });
          return;
        }
      }
    };
    function done(error?: Error, value?: { match: RegExpExecArray; rest: string }) {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value!);
    }
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.once('exit', onExit);
  });
}

/** Resident set size of a process in bytes, from /proc; undefined off Linux or once it exited. */
export function rssOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) used so far by a process, from /proc. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}
