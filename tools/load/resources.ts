/**
 * CPU and memory of the processes of a run, read from /proc once a second: each tidings node,
 * and with --cluster also PostgreSQL (postmaster and backends), redis-server, the fake vendors
 * and this load generator, which all share the machine's cores.
 */
import { cpuSecondsOf, rssOf } from '../lib/children.ts';
import { treeUsage } from '../lib/proc-tree.ts';

export interface Reading {
  rssBytes: number | undefined;
  cpuSec: number | undefined;
  /** Process trees only. */
  pssBytes?: number | undefined;
  processes?: number;
}

export type Reader = () => Reading | undefined;

export const readProcess = (pid: number): Reader => () => {
  const cpuSec = cpuSecondsOf(pid);
  return cpuSec === undefined ? undefined : { rssBytes: rssOf(pid), cpuSec };
};

export const readTree = (pid: number): Reader => () => treeUsage(pid);

export interface ProcessUsage {
  label: string;
  pid: number;
  /** Average over the run phase (or the part of it the process was alive for), % of one core. */
  cpuAvgPct: number | null;
  /** CPU seconds used in that window. */
  cpuSec: number | null;
  cpuWindow: 'run' | 'run until killed';
  rssPeakBytes: number | null;
  rssEndBytes: number | null;
  pssPeakBytes?: number | null;
  pssEndBytes?: number | null;
  processesPeak?: number;
}

export class ProcessMeter {
  readonly label: string;
  readonly pid: number;
  readonly #read: Reader;
  #last: { at: number; sec: number } | undefined;
  #runStart: { at: number; sec: number } | undefined;
  #runEnd: { at: number; sec: number } | undefined;
  #killed = false;
  rssPeak: number | null = null;
  rssEnd: number | null = null;
  pssPeak: number | null = null;
  pssEnd: number | null = null;
  processesPeak = 0;

  constructor(label: string, pid: number, read: Reader) {
    this.label = label;
    this.pid = pid;
    this.#read = read;
  }

  get stopped(): boolean {
    return this.#killed;
  }

  /** One reading: updates peaks, returns RSS and the CPU % since the previous reading. */
  sample(now: number): { rssBytes: number | undefined; cpuPct: number | null } {
    if (this.#killed) return { rssBytes: undefined, cpuPct: null };
    const r = this.#read();
    if (!r) return { rssBytes: undefined, cpuPct: null };
    if (r.rssBytes !== undefined) {
      this.rssPeak = Math.max(this.rssPeak ?? 0, r.rssBytes);
      this.rssEnd = r.rssBytes;
    }
    if (r.pssBytes !== undefined) {
      this.pssPeak = Math.max(this.pssPeak ?? 0, r.pssBytes);
      this.pssEnd = r.pssBytes;
    }
    if (r.processes !== undefined) this.processesPeak = Math.max(this.processesPeak, r.processes);
    let cpuPct: number | null = null;
    if (r.cpuSec !== undefined) {
      if (this.#last && now > this.#last.at) cpuPct = ((r.cpuSec - this.#last.sec) / ((now - this.#last.at) / 1000)) * 100;
      this.#last = { at: now, sec: r.cpuSec };
    }
    return { rssBytes: r.rssBytes, cpuPct };
  }

  #cpuNow(now: number): { at: number; sec: number } | undefined {
    const sec = this.#read()?.cpuSec;
    return sec === undefined ? undefined : { at: now, sec };
  }

  markRunStart(now: number): void {
    this.#runStart = this.#cpuNow(now);
  }

  markRunEnd(now: number): void {
    if (!this.#runEnd) this.#runEnd = this.#cpuNow(now);
  }

  /** Last readings before the process is SIGKILLed: its run average ends here. */
  beforeKill(now: number): void {
    this.sample(now);
    this.markRunEnd(now);
    this.#killed = true;
  }

  usage(): ProcessUsage {
    const s = this.#runStart;
    const e = this.#runEnd;
    const cpuSec = s && e && e.at > s.at ? e.sec - s.sec : null;
    const cpuAvgPct = cpuSec !== null ? (cpuSec / ((e!.at - s!.at) / 1000)) * 100 : null;
    return {
      label: this.label, pid: this.pid, cpuAvgPct, cpuSec, cpuWindow: this.#killed ? 'run until killed' : 'run',
      rssPeakBytes: this.rssPeak, rssEndBytes: this.rssEnd,
      ...(this.pssPeak !== null ? { pssPeakBytes: this.pssPeak, pssEndBytes: this.pssEnd } : {}),
      ...(this.processesPeak > 0 ? { processesPeak: this.processesPeak } : {}),
    };
  }
}
