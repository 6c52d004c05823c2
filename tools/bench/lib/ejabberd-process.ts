/**
 * A throw-away ejabberd (Debian's package, `apt-get install ejabberd erlang-p1-sqlite3`) for the
 * peer bench: its own temp dir for config, spool, SQLite database, logs and Erlang cookie, a
 * distinct node name, listening on 127.0.0.1 only, started in the foreground as our child through
 * the packaged `ejabberdctl` (no systemd, never the system instance), stopped with SIGTERM
 * (ejabberd's graceful shutdown) and SIGKILLed if it lingers or if this process dies.
 *
 * Storage is ejabberd's SQL backend on SQLite: mod_mam (archive every chat message, `default:
 * always`) and mod_offline both on SQL, auth on SQL. The database is created here from the
 * package's own schema (lite.sql, exactly what ejabberd would run on an empty file) so the N
 * bench users can be inserted in one transaction — the honest fast path of a SQL deployment —
 * and so its journal mode can be chosen: WAL, like tidings, or ejabberd's default rollback
 * journal. `synchronous` stays libsqlite3's default, FULL (ejabberd has no option for it).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { XmppConnection } from './xmpp-client.ts';

const CTL = '/usr/sbin/ejabberdctl';
const SCHEMA = '/usr/share/ejabberd/sql/lite.sql';
export const EJABBERD_DOMAIN = 'localhost';
export const EJABBERD_PASSWORD = 'bench-password';
/** A user of our own for the readiness login, so no bench user has a session before its phase. */
const READY_USER = 'bench-ready';

/** What is missing for the bench (undefined: ready), and the package version when installed. */
export function ejabberdStatus(): { missing?: string; version?: string } {
  if (!existsSync(CTL) || !existsSync(SCHEMA)) return { missing: 'ejabberd is not installed' };
  const sqliteDriver = readdirSync('/usr/lib/erlang/lib').some((d) => d.startsWith('p1_sqlite3-'));
  if (!sqliteDriver) return { missing: "ejabberd's SQLite driver (erlang-p1-sqlite3) is not installed" };
  if (process.getuid?.() !== 0) return { missing: 'the bench must run as root (ejabberdctl starts the server as user ejabberd)' };
  let version: string | undefined;
  try {
    version = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'ejabberd'], { encoding: 'utf8' }).trim();
  } catch { /* not a dpkg system: the version stays unknown */ }
  return { version };
}

/** beam.smp processes on the machine (a system ejabberd, say), which would compete for the cores. */
export function otherBeams(): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'beam.smp';
    } catch {
      return false;
    }
  }).map(Number);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function ejabberdIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('ejabberd:'));
  if (!line) throw new Error('no ejabberd system user (the package creates it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else chownSync(full, uid, gid);
  }
}

/** The pids below `root` in the process tree (ejabberdctl → su → sh → beam.smp). */
function descendants(root: number): Array<{ pid: number; comm: string }> {
  const byParent = new Map<number, Array<{ pid: number; comm: string }>>();
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), { pid: Number(p), comm }]);
    } catch { /* exited meanwhile */ }
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const walk = (pid: number) => {
    for (const c of byParent.get(pid) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/** beam.smp below ejabberdctl, with its process group (su starts it in a session of its own). */
function findBeam(root: number): { pid: number; pgid: number } | undefined {
  const pid = descendants(root).find((p) => p.comm === 'beam.smp')?.pid;
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { pid, pgid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) };
  } catch {
    return undefined;
  }
}

function config(o: { port: number; db: string }): string {
  // Only what the bench needs; every module on SQL. The c2s listener is plain TCP on loopback
  // (no certfiles, so STARTTLS is not even offered) with SASL PLAIN, and no shaper: the default
  // config's `normal` shaper (3000 B/s per connection) would be the thing measured otherwise.
  // The listen backlog defaults to 5: a burst of 50 logins would then wait on SYN retransmits.
  return `# written by tools/bench/lib/ejabberd-process.ts; a throw-away instance
loglevel: warning
hosts: [${JSON.stringify(EJABBERD_DOMAIN)}]
default_db: sql
sql_type: sqlite
sql_database: ${JSON.stringify(o.db)}
new_sql_schema: false
auth_method: sql
auth_password_format: plain
listen:
  - port: ${o.port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
    max_stanza_size: 65536
    backlog: 1024
    shaper: none
    access: c2s
acl:
  local:
    user_regexp: ""
access_rules:
  c2s:
    allow: all
shaper_rules:
  max_user_sessions: 10
  c2s_shaper: none
modules:
  mod_mam:
    db_type: sql
    default: always
  mod_offline:
    db_type: sql
  mod_stream_mgmt:
    resume_timeout: 0
`;
}

export interface EjabberdServer {
  readonly port: number;
  /** beam.smp, the process whose CPU is the server's. */
  readonly pid: number;
  readonly dbFile: string;
  readonly journal: 'wal' | 'delete';
  /** A read-only connection to ejabberd's database (WAL only: a reader could make a rollback-journal writer fail). */
  reader(): SQLite.Database;
  /** Archive and offline-spool rows once ejabberd's writes settle (two equal reads 0.5 s apart, 15 s at most). */
  settledRowCounts(): Promise<{ archive: number; spool: number }>;
  stop(graceMs?: number): Promise<void>;
}

/** Create the temp instance, register `users` (names from `name(i)`), start it, wait for its c2s port. */
export async function startEjabberd(o: { users: number; name: (i: number) => string; journal: 'wal' | 'delete'; timeoutMs?: number }): Promise<EjabberdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-ejabberd-'));
  const [etc, spool, logs] = ['etc', 'spool', 'logs'].map((d) => join(dir, d)) as [string, string, string];
  for (const d of [etc, spool, logs]) mkdirSync(d);
  const dbFile = join(spool, 'ejabberd.db');
  const [port, distPort] = [await freePort(), await freePort()];

  const db = new SQLite(dbFile);
  db.exec(readFileSync(SCHEMA, 'utf8'));
  db.pragma(`journal_mode = ${o.journal}`); // WAL is a property of the file: ejabberd's connection inherits it
  const insert = db.prepare('INSERT INTO users (username, password) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < o.users; i++) insert.run(o.name(i), EJABBERD_PASSWORD);
    insert.run(READY_USER, EJABBERD_PASSWORD);
  })();
  db.close();

  writeFileSync(join(etc, 'ejabberd.yml'), config({ port, db: dbFile }));
  writeFileSync(join(etc, 'inetrc'), readFileSync('/etc/ejabberd/inetrc'));
  // su (pam_limits) drops the soft fd limit to 1024; the packaged systemd unit sets
  // LimitNOFILE=65536. This wrapper lifts the soft limit to the hard one before erl starts.
  writeFileSync(join(etc, 'erl'), '#!/bin/sh\nulimit -n "$(ulimit -Hn)" 2>/dev/null\nexec /usr/bin/erl "$@"\n');
  chmodSync(join(etc, 'erl'), 0o755);
  // Sourced by ejabberdctl instead of /etc/default/ejabberd: a distinct node, a private cookie,
  // Erlang distribution on a loopback port of ours without epmd, no pid file.
  const cookie = randomBytes(16).toString('hex');
  writeFileSync(join(etc, 'ejabberdctl.cfg'), [
    `ERLANG_NODE=tidingsbench${process.pid}@localhost`,
    `ERL_DIST_PORT=${distPort}`,
    `ERL=${join(etc, 'erl')}`,
    `ERL_OPTIONS="-setcookie ${cookie} -kernel inet_dist_use_interface {127,0,0,1} -env ERL_CRASH_DUMP_BYTES 0"`,
    '',
  ].join('\n'));
  const { uid, gid } = ejabberdIds();
  chmodSync(dir, 0o700);
  chownTree(dir, uid, gid);

  // ejabberdctl gets a process group of its own; su then puts sh and beam.smp in a new session,
  // so beam (and its port programs) must be signalled by pid and by beam's own group.
  const child = spawn(CTL, ['--config-dir', etc, '--ctl-config', join(etc, 'ejabberdctl.cfg'), '--spool', spool, '--logs', logs, 'foreground'], {
    cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let beam = { pid: 0, pgid: 0 };
  let stopped = false;

  // SIGTERM goes to beam.smp alone (sh and su then exit in order, reaping it): a SIGTERM to sh or
  // su first would orphan beam. SIGKILL goes to everything: beam, its group, ejabberdctl's group.
  const kill = (signal: NodeJS.Signals) => {
    if (!beam.pid) beam = findBeam(child.pid!) ?? beam;
    const targets = signal === 'SIGKILL' || !beam.pid ? [beam.pid, -beam.pgid, -child.pid!] : [beam.pid];
    for (const target of targets) {
      try {
        if (target) process.kill(target, signal);
      } catch { /* already gone */ }
    }
  };
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onExit = () => {
    kill('SIGKILL');
    cleanup();
  };
  process.once('exit', onExit);
  const onSignal = () => {
    kill('SIGTERM');
    const timer = setTimeout(() => process.exit(130), 3000);
    void exited.then(() => {
      clearTimeout(timer);
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let reader: SQLite.Database | undefined;
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (stopped) return;
    stopped = true;
    reader?.close();
    if (child.exitCode === null && child.signalCode === null) {
      kill('SIGTERM'); // beam handles SIGTERM as init:stop(): modules stop, SQLite closes
      const timer = setTimeout(() => kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    kill('SIGKILL'); // anything left
    child.stdout!.destroy(); // a surviving orphan must not hold our event loop through the pipes
    child.stderr!.destroy();
    cleanup();
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };

  try {
    // Find beam first (it appears within a second), so every later stop reaches it.
    for (let i = 0; i < 100 && !beam.pid; i++) {
      if (child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
      beam = findBeam(child.pid!) ?? beam;
    }
    if (!beam.pid) throw new Error('no beam.smp appeared under ejabberdctl');
    await waitForLogin(port, child, o.timeoutMs ?? 30_000);
  } catch (error) {
    await stop(2000);
    const log = existsSync(join(logs, 'error.log')) ? readFileSync(join(logs, 'error.log'), 'utf8').slice(-2000) : '';
    throw new Error(`ejabberd did not start: ${(error as Error).message}\n--- output ---\n${output}\n--- error.log ---\n${log}`);
  }
  const server: EjabberdServer = {
    port, pid: beam.pid, dbFile, journal: o.journal, stop,
    reader() {
      if (o.journal !== 'wal') throw new Error('reading a rollback-journal database while ejabberd writes could fail its writes');
      reader ??= new SQLite(dbFile, { readonly: true, fileMustExist: true });
      return reader;
    },
    async settledRowCounts() {
      const db = server.reader();
      const read = () => ({ archive: db.prepare('SELECT count(*) FROM archive').pluck().get() as number, spool: db.prepare('SELECT count(*) FROM spool').pluck().get() as number });
      let last = read();
      for (let i = 0; i < 30; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const now = read();
        if (now.archive === last.archive && now.spool === last.spool) break;
        last = now;
      }
      return last;
    },
  };
  return server;
}

/**
 * Ready means a full SASL login works. An open c2s port is not enough: ejabberd 23.01 can accept
 * connections before its SQL pool worker is registered, and a login then crashes its c2s process
 * (badarg in ejabberd_sql:get_worker) and the socket closes.
 */
async function waitForLogin(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ejabberdctl exited (code ${child.exitCode}, signal ${child.signalCode})`);
    try {
      const conn = await XmppConnection.open({ host: '127.0.0.1', port, domain: EJABBERD_DOMAIN, user: READY_USER, password: EJABBERD_PASSWORD, resource: 'ready', timeoutMs: 2000 });
      conn.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`no XMPP login on port ${port} after ${timeoutMs} ms: ${(error as Error).message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
