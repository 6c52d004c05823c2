import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_SECRET, TEST_SECRET } from './server.ts';
import { createPgDatabaseSync, TEST_DIALECT } from './dialects.ts';

/** Where writeChildConfig records the PostgreSQL database of a data directory (read by test/reliability/harness.ts). */
export const PG_DATABASE_FILE = 'postgres-database.json';

/** A tidings server in its own process, started through the real CLI, so it can be kill -9'd. */
export interface ChildServer {
  process: ChildProcess;
  url: string;
  httpUrl: string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  admin(path: string): Promise<Response>;
}

/**
 * The config file of a child server on `dataDir`. With TIDINGS_TEST_DIALECT=postgres it gets a
 * fresh PostgreSQL database (one per data directory, so every restart on the same config file
 * reopens it; dropped when the test process exits) and a short push lease: a database that several
 * processes may share cannot tell that the killed process is gone, so its jobs left `sending` are
 * sent again once their lease lapses rather than at the restart.
 */
export function writeChildConfig(dataDir: string, config: Record<string, unknown>): string {
  const file = join(dataDir, 'config.json');
  let storage = config.storage as Record<string, unknown> | undefined;
  let push = config.push as Record<string, unknown> | undefined;
  if (TEST_DIALECT === 'postgres') {
    const database = createPgDatabaseSync();
    writeFileSync(join(dataDir, PG_DATABASE_FILE), JSON.stringify(database));
    storage = { ...storage, dialect: 'postgres', url: database.url };
    push = { claimLeaseMs: 1500, ...push };
  }
  writeFileSync(file, JSON.stringify({
    host: '127.0.0.1', port: 0, dataDir, logLevel: 'warn',
    auth: { secrets: [TEST_SECRET] }, admin: { secret: ADMIN_SECRET }, transport: (process.env.TIDINGS_TEST_TRANSPORT ?? 'ws'), ...config,
    ...(storage ? { storage } : {}), ...(push ? { push } : {}),
  }));
  return file;
}

export async function startChildServer(configFile: string): Promise<ChildServer> {
  const child = spawn(process.execPath, ['bin/tidings.mjs', 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 15000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /listening on (ws:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const httpUrl = url.replace(/^ws/, 'http');
  return {
    process: child, url, httpUrl,
    async kill(signal = 'SIGKILL') {
      child.kill(signal);
      return exited;
    },
    admin: (path) => fetch(`${httpUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } }),
  };
}
