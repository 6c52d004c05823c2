/**
 * CPU and memory of a process together with its descendants, from /proc (Linux; undefined
 * elsewhere or once the root exited). For PostgreSQL, whose work happens in one backend process
 * per connection under the postmaster.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  ppid: number;
  /** user + system of the process, plus that of its children it has waited for, in seconds. */
  cpuSec: number;
}

function statOf(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state ppid … utime(11) stime(12) cutime(13) cstime(14).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return { ppid: Number(f[1]), cpuSec: ticks / 100 };
  } catch {
    return undefined;
  }
}

function statusKb(path: string, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The pids of `root` and everything below it. */
export function treeOf(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const s = statOf(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid);
    if (list) list.push(Number(name));
    else children.set(s.ppid, [Number(name)]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface TreeUsage {
  processes: number;
  cpuSec: number;
  /** Sum of the processes' RSS: memory they share (PostgreSQL's shared buffers) counts once per process that touched it. */
  rssBytes: number;
  /** Sum of the processes' PSS (shared pages split between their users), when /proc has smaps_rollup. */
  pssBytes: number | undefined;
}

export function treeUsage(root: number): TreeUsage | undefined {
  if (!statOf(root)) return undefined;
  let cpuSec = 0;
  let rssBytes = 0;
  let pssBytes: number | undefined = 0;
  let processes = 0;
  for (const pid of treeOf(root)) {
    const s = statOf(pid);
    if (!s) continue;
    processes += 1;
    cpuSec += s.cpuSec;
    rssBytes += statusKb(`/proc/${pid}/status`, 'VmRSS') ?? 0;
    const pss = statusKb(`/proc/${pid}/smaps_rollup`, 'Pss');
    pssBytes = pss === undefined || pssBytes === undefined ? undefined : pssBytes + pss;
  }
  return { processes, cpuSec, rssBytes, pssBytes };
}
