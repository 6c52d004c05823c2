import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type TidingsServer } from '../../server/app.ts';
import { mintToken } from '../../server/auth/tokens.ts';
import { validateConfig } from '../../server/config/load-config.ts';
import type { Config } from '../../server/config/schema.ts';
import { TestClient } from './client.ts';
import { createPgDatabase, TEST_DIALECT } from './dialects.ts';
import type { Platform } from '../../protocol/index.ts';

export const TEST_SECRET = 'test-secret-0123456789abcdef';
export const ADMIN_SECRET = 'admin-secret-0123456789abcdef';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? deepMerge(out[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export interface TestServer {
  server: TidingsServer;
  url: string;
  httpUrl: string;
  dataDir: string;
  config: Config;
  token(userId: string, ttlSec?: number): string;
  /** Connect and log in as a user/device. */
  connect(userId: string, deviceId?: string, platform?: Platform): Promise<TestClient>;
  /** Graceful stop then start again on the same data directory (and a new port). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  admin(path: string, init?: RequestInit): Promise<Response>;
}

/**
 * On PostgreSQL (TIDINGS_TEST_DIALECT=postgres) the server's storage is exported as
 * TIDINGS_STORAGE_DIALECT/TIDINGS_STORAGE_URL while it runs, so a CLI child a test spawns with
 * the test's environment (`tidings why --data-dir …`) opens the same database.
 */
function exportStorageEnv(url: string): () => void {
  const before = { dialect: process.env.TIDINGS_STORAGE_DIALECT, url: process.env.TIDINGS_STORAGE_URL };
  process.env.TIDINGS_STORAGE_DIALECT = 'postgres';
  process.env.TIDINGS_STORAGE_URL = url;
  return () => {
    if (process.env.TIDINGS_STORAGE_URL !== url) return; // a later server exported its own
    for (const [key, value] of [['TIDINGS_STORAGE_DIALECT', before.dialect], ['TIDINGS_STORAGE_URL', before.url]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

/**
 * A real tidings server on 127.0.0.1, a random port and a fresh SQLite file, or a fresh
 * PostgreSQL database with TIDINGS_TEST_DIALECT=postgres (kept across restart(), dropped by stop()).
 */
export async function startTestServer(overrides: DeepPartial<Config> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-test-'));
  const pg = TEST_DIALECT === 'postgres' ? await createPgDatabase() : undefined;
  const config = validateConfig(deepMerge({
    host: '127.0.0.1', port: 0, dataDir, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
    auth: { secrets: [TEST_SECRET] }, admin: { secret: ADMIN_SECRET },
    storage: pg ? { dialect: 'postgres', url: pg.url } : { synchronous: 'NORMAL' }, transport: (process.env.TIDINGS_TEST_TRANSPORT ?? 'ws'),
  }, overrides as Record<string, unknown>));
  const clients: TestClient[] = [];
  let server: TidingsServer;
  try {
    server = await startServer(config);
  } catch (error) {
    await pg?.drop();
    throw error;
  }
  const unexport = pg ? exportStorageEnv(pg.url) : () => undefined;
  const handle: TestServer = {
    get server() { return server; },
    get url() { return server.url; },
    get httpUrl() { return server.url.replace(/^ws/, 'http'); },
    dataDir, config,
    token: (userId, ttlSec = 3600) => mintToken(TEST_SECRET, userId, ttlSec),
    async connect(userId, deviceId = `${userId}-phone`, platform = 'ios') {
      const client = await TestClient.connect(server.url);
      clients.push(client);
      await client.login(handle.token(userId), deviceId, platform);
      return client;
    },
    async restart() {
      await server.stop();
      server = await startServer(config);
    },
    async stop() {
      for (const c of clients) c.socket.terminate();
      await server.stop();
      unexport();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    admin(path, init = {}) {
      return fetch(`${handle.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_SECRET}`, ...(init.headers ?? {}) } });
    },
  } as TestServer;
  return handle;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll until `check` returns truthy (for effects observable only from outside, e.g. offline events). */
type Falsy = undefined | null | false | 0 | '';
export async function eventually<T>(check: () => T | Falsy | Promise<T | Falsy>, timeoutMs = 5000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await sleep(10);
  }
}
