/**
 * A throw-away redis-server for the tools (`tidings load --cluster`): 127.0.0.1, a free port, no
 * persistence, a temp working dir, a tracked child (so it never outlives us). The tests' helper
 * (test/helpers/redis.ts) launches its servers through launchRedisServer too.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trackChild, type Child } from './children.ts';

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  child: Child;
  /** Stop it and remove its working dir. */
  stop(): Promise<void>;
}

export const REDIS_MISSING = 'redis-server is not installed (needed by --cluster): apt-get install redis-server';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * redis-server on 127.0.0.1:`port` with `dir` as its working dir (no persistence), tracked from
 * the start; resolves once it accepts connections. The caller owns `dir`.
 */
export async function launchRedisServer(port: number, dir: string, binary = process.env.REDIS_SERVER ?? 'redis-server'): Promise<Child> {
  const proc = spawn(binary, [
    '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Tracked from the start (a missing binary has no pid: spawn then reports ENOENT below).
  const child = proc.pid !== undefined ? trackChild(proc) : undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start in 10 s: ${out.slice(-2000)}`)), 10_000);
      const settle = (error?: Error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      // spawn reports a missing binary as an 'error' event (ENOENT), not as an exit.
      proc.once('error', (error: NodeJS.ErrnoException) => settle(error.code === 'ENOENT' ? new Error(REDIS_MISSING) : error));
      proc.once('exit', (code, signal) => settle(new Error(`redis-server exited at start (code ${code}, signal ${signal}): ${out.slice(-2000)}`)));
      proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        out = (out + chunk).slice(-8000);
        if (/Ready to accept connections/.test(out)) settle();
      });
      proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => { out = (out + chunk).slice(-8000); });
    });
  } catch (error) {
    await child?.stop(1000);
    throw error;
  }
  proc.stdout!.resume();
  proc.stderr!.resume();
  return child!;
}

export async function startRedisServer(binary = process.env.REDIS_SERVER ?? 'redis-server'): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-load-redis-'));
  let started: Child;
  let port: number;
  try {
    port = await freePort();
    started = await launchRedisServer(port, dir, binary);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`, port, pid: started.pid, child: started,
    async stop() {
      await started.stop(3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
