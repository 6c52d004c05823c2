/**
 * A throw-away PostgreSQL for the tools (`tidings load --cluster`), through the CI's own script
 * (tools/ci/postgres.sh: initdb once, loopback and a unix socket in its directory, no systemd),
 * with one fresh database created in it for the run. pg_ctl daemonises the server, so it is not a
 * child we could SIGKILL on exit: stop() (and, as a last resort, an exit hook) runs
 * `postgres.sh stop`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './children.ts';

const SCRIPT = join(REPO_ROOT, 'tools/ci/postgres.sh');

export interface ThrowAwayPostgres {
  /** URL of the run's database. */
  url: string;
  database: string;
  /** The cluster's directory (data/ and server.log inside). */
  dir: string;
  /** The postmaster's pid (its backends are its children). */
  pid: number | undefined;
  /** Stop the cluster; remove its directory unless `keep`. */
  stop(keep?: boolean): Promise<void>;
}

function script(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [SCRIPT, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tools/ci/postgres.sh ${args[0]} failed: ${(stderr || error.message).trim()}`));
      else resolve(stdout.trim());
    });
  });
}

function postmasterPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Run one statement on the cluster's maintenance database (CREATE DATABASE cannot run in a transaction). */
async function maintenance(url: string, text: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** `database` must be a plain identifier (it goes into CREATE DATABASE as is). */
export async function startPostgres(database: string): Promise<ThrowAwayPostgres> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`not a plain database name: ${database}`);
  // Directly under /tmp: the script hands the directory to the postgres user when run as root,
  // and that user could not get through a 0700 parent of ours. The socket path must stay short.
  const dir = mkdtempSync('/tmp/tidings-load-pg-');
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    try {
      execFileSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // Nothing more can be done on the way out.
    }
  };
  process.once('exit', stopSync);
  try {
    let adminUrl: string;
    try {
      adminUrl = await script(['start', dir], 120_000);
    } catch (error) {
      const message = (error as Error).message;
      if (/not installed/.test(message)) throw new Error(`PostgreSQL is not installed (needed by --cluster): run \`bash tools/ci/postgres.sh ensure\` as root (apt-get install postgresql)\n${message}`);
      throw error;
    }
    await maintenance(adminUrl, `CREATE DATABASE ${database}`);
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    return {
      url: url.toString(), database, dir, pid: postmasterPid(dir),
      async stop(keep = false) {
        process.off('exit', stopSync);
        if (!stopped) {
          stopped = true;
          await script(['stop', dir], 90_000).catch(() => undefined);
        }
        if (!keep) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    process.off('exit', stopSync);
    stopSync();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
