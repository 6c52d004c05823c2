/**
 * A real cluster for the cluster tests: N `tidings serve` processes (the real CLI, child processes
 * on random ports) on one PostgreSQL database and one throw-away redis-server, with the `redis`
 * cluster engine. Node i can be killed (-9) and started again on its own config.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../server/auth/tokens.ts';
import type { Platform } from '../../protocol/index.ts';
import { TestClient } from '../helpers/client.ts';
import { createPgDatabase, type PgTestDatabase } from '../helpers/dialects.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { ADMIN_SECRET, TEST_SECRET } from '../helpers/server.ts';
import { startChild, type Child } from '../reliability/harness.ts';

/** The cluster tests need a PostgreSQL (npm test starts one: tools/ci/suite-postgres.sh). */
export const NEEDS_POSTGRES = process.env.TIDINGS_TEST_PG_URL ? false : 'needs PostgreSQL: TIDINGS_TEST_PG_URL is not set (npm test runs this in its PostgreSQL suite)';

export interface TestCluster {
  readonly nodes: Array<Child | undefined>;
  readonly redis: TestRedis;
  readonly database: PgTestDatabase;
  node(i: number): Child;
  url(i: number): string;
  token(user: string): string;
  /** Connect to node i and log in. */
  connect(i: number, user: string, deviceId?: string, platform?: Platform): Promise<TestClient>;
  kill(i: number): Promise<void>;
  /** Start node i again, on the same config (and node id, unless given another). */
  restart(i: number, nodeId?: string): Promise<Child>;
  /** Every node's output so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  nodes: number;
  /** Config for every node, merged over the cluster's own (storage, cluster, auth). */
  config?: Record<string, unknown>;
  /** cluster.* overrides (presenceTtlMs, sweepMs, chaosDropRate). */
  cluster?: Record<string, unknown>;
  /** A database of the caller's (left alone at stop) instead of a fresh one on the suite's PostgreSQL. */
  databaseUrl?: string;
}

export async function startCluster(options: ClusterOptions): Promise<TestCluster> {
  const [database, redis] = await Promise.all([
    options.databaseUrl ? { name: '', url: options.databaseUrl, drop: async () => undefined } : createPgDatabase(),
    startTestRedis(),
  ]);
  const dirs: string[] = [];
  const files: string[] = [];
  const nodes: Array<Child | undefined> = [];
  const prefix = `tidings-test-${process.pid}:`;
  const configFor = (i: number, nodeId: string) => {
    const dir = dirs[i] ?? mkdtempSync(join(tmpdir(), `tidings-node${i + 1}-`));
    dirs[i] = dir;
    const extra = options.config ?? {};
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({
      host: '127.0.0.1', port: 0, dataDir: dir, logLevel: 'warn', transport: process.env.TIDINGS_TEST_TRANSPORT ?? 'ws',
      auth: { secrets: [TEST_SECRET] }, admin: { secret: ADMIN_SECRET },
      ...extra,
      storage: { ...(extra.storage as object | undefined), dialect: 'postgres', url: database.url },
      cluster: { engine: 'redis', nodeId, redis: { url: redis.url, prefix }, presenceTtlMs: 1500, sweepMs: 200, ...options.cluster },
    }));
    files[i] = file;
    return file;
  };
  const nodeId = (i: number) => `node${i + 1}`;
  try {
    // One at a time: the first migrates the database, the others find it migrated.
    for (let i = 0; i < options.nodes; i++) nodes[i] = await startChild(configFor(i, nodeId(i)));
  } catch (error) {
    await Promise.all(nodes.map((n) => n?.kill('SIGKILL')));
    await Promise.all([redis.stop(), database.drop()]);
    throw error;
  }
  const node = (i: number) => {
    const child = nodes[i];
    if (!child) throw new Error(`node ${i + 1} is not running`);
    return child;
  };
  const token = (user: string) => mintToken(TEST_SECRET, user, 3600);
  return {
    nodes, redis, database, node, token,
    url: (i) => node(i).url,
    async connect(i, user, deviceId = `${user}-phone`, platform = 'ios') {
      const client = await TestClient.connect(node(i).url);
      await client.login(token(user), deviceId, platform);
      return client;
    },
    async kill(i) {
      await node(i).kill('SIGKILL');
      nodes[i] = undefined;
    },
    async restart(i, id = nodeId(i)) {
      await nodes[i]?.kill('SIGKILL');
      nodes[i] = await startChild(configFor(i, id));
      return nodes[i]!;
    },
    output: () => nodes.map((n, i) => `--- node ${i + 1}\n${n?.output().slice(-3000) ?? '(not running)'}`).join('\n'),
    async stop() {
      await Promise.all(nodes.map((n) => n?.kill('SIGKILL')));
      await redis.stop();
      await database.drop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
