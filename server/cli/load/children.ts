/**
 * The processes `tidings load` starts when it is not given `--url`: the fake APNs/FCM
 * (vendors-child.ts) and a tidings server through the real CLI (`bin/tidings.mjs serve`) with
 * a temp data dir. Both are children, so on a small machine the server, the fakes and the
 * simulated devices each get their own event loop. Children never outlive this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

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
function waitForLine(child: ChildProcess, pattern: RegExp, label: string, timeoutMs: number, stderr: () => string): Promise<{ match: RegExpExecArray; rest: string }> {
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

export interface VendorsReady {
  apns: { host: string; port: number };
  fcm: { host: string; port: number };
  ca: string;
  apnsKey: string;
  keyId: string;
  teamId: string;
  topic: string;
  serviceAccountFile: string;
  controlUrl: string;
  pid: number;
}

export async function startVendors(): Promise<{ child: Child; ready: VendorsReady }> {
  const script = fileURLToPath(new URL('./vendors-child.ts', import.meta.url));
  const proc = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const child = trackChild(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr = (stderr + c).slice(-4000); });
  try {
    const { match } = await waitForLine(proc, /^(\{.*\})$/, 'fake vendors', 30_000, () => stderr);
    const ready = JSON.parse(match[1]!) as VendorsReady;
    proc.stdout!.resume();
    return { child, ready };
  } catch (error) {
    await child.stop(1000);
    throw error;
  }
}

export async function startServerChild(configFile: string, logFile: string, nodeArgs: string[] = []): Promise<{ child: Child; url: string }> {
  const watch = fileURLToPath(new URL('./parent-watch.mjs', import.meta.url));
  const proc = spawn(process.execPath, [...nodeArgs, '--import', watch, 'bin/tidings.mjs', 'serve', '--config', configFile], {
    cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const child = trackChild(proc);
  let stderr = '';
  const log = createWriteStream(logFile, { flags: 'a' });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-4000);
    log.write(c);
  });
  try {
    const { match, rest } = await waitForLine(proc, /tidings listening on (ws:\/\/\S+)/, 'tidings server', 60_000, () => stderr);
    log.write(rest);
    proc.stdout!.pipe(log);
    void child.exited.then(() => log.end());
    return { child, url: match[1]! };
  } catch (error) {
    await child.stop(1000);
    log.end();
    throw error;
  }
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
