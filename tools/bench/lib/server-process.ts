/**
 * Child-process entry for benches: start a tidings server in a fresh temp data dir and print
 * `{"url":...,"dataDir":...,"pid":...}` as one JSON line on stdout. Stops (gracefully, then
 * removes the data dir) on SIGTERM/SIGINT or when stdin closes, i.e. when the parent goes away.
 * With `storage.dialect` postgres, `storage.url` names a cluster: the server runs on a fresh
 * database created there and dropped at the stop.
 *
 *   node --import tsx tools/bench/lib/server-process.ts --config '{"storage":{"synchronous":"NORMAL"}}'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../../../server/app.ts';
import { validateConfig } from '../../../server/config/load-config.ts';
import { stopWhenAsked } from '../../lib/child-entry.ts';

const { values } = parseArgs({ options: { config: { type: 'string', default: '{}' } }, strict: true });
const given = JSON.parse(values.config) as Record<string, unknown>;
const dataDir = mkdtempSync(join(tmpdir(), 'tidings-bench-'));
const fresh = await freshPostgresDatabase(given.storage as { dialect?: string; url?: string } | undefined);
const config = validateConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', ...given, ...(fresh ? { storage: { ...(given.storage as object), url: fresh.url } } : {}), dataDir });

/** A throw-away database on the cluster `storage.url` points at, so every bench run starts empty. */
async function freshPostgresDatabase(storage: { dialect?: string; url?: string } | undefined) {
  if (storage?.dialect !== 'postgres' || !storage.url) return undefined;
  const { default: pg } = await import('pg');
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: storage.url });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  const name = `tidings_bench_${process.pid}`;
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(storage.url);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined) };
}

const cleanup = () => rmSync(dataDir, { recursive: true, force: true });
let server: Awaited<ReturnType<typeof startServer>>;
try {
  server = await startServer(config);
} catch (error) {
  cleanup();
  await fresh?.drop();
  throw error;
}

stopWhenAsked(async () => {
  // Bounded: whatever happens, leave within 5 s.
  setTimeout(() => {
    cleanup();
    process.exit(1);
  }, 5000).unref();
  try {
    await server.stop();
    await fresh?.drop();
  } finally {
    cleanup();
    process.exit(0); // a normal exit, so `--cpu-prof` writes its profile
  }
});

process.stdout.write(`${JSON.stringify({ url: server.url, dataDir, pid: process.pid })}\n`);
