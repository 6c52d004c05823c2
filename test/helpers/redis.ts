import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Child } from '../../tools/lib/children.ts';
import { freePort, launchRedisServer } from '../../tools/lib/redis-server.ts';

/** A throw-away redis-server on 127.0.0.1 and a free port (no persistence), for one test file. */
export interface TestRedis {
  url: string;
  port: number;
  /** Kill it (as a crash would) and start it again, empty, on the same port, after `downMs`. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-redis-'));
  const port = await freePort();
  let child: Child = await launchRedisServer(port, dir);
  const kill = async () => {
    const { process: proc } = child;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGKILL');
    await child.exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`, port,
    async restart(downMs = 0) {
      await kill();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      child = await launchRedisServer(port, dir);
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
