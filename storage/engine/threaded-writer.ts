import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { WriteBatch, WriteResult } from '../contract.ts';

/** What a dialect's writer does, on whichever thread it runs. */
export interface BatchWriter {
  write(batch: WriteBatch): Promise<WriteResult>;
  reset(): void;
  close(): Promise<void>;
}

/** What every writer thread is started with: its module, plus the dialect's own data. */
export interface WriterThreadStart {
  /** Absolute path of the thread's module (run through tsx by writer-thread-entry.mjs). */
  module: string;
}

/** Messages between the server thread and the writer thread (structured clone). */
export type ToWriter = { id: number; batch: WriteBatch } | { id: number; close: true } | { id: number; reset: true };
export type FromWriter =
  | { ready: true }
  | { failed: string }
  | { id: number; result: WriteResult }
  | { id: number; error: string };

const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/**
 * The parent's node flags minus module loaders: the entry registers tsx itself (twice would load
 * every module through two hooks), while flags such as --cpu-prof still apply to the thread.
 */
function threadExecArgv(): string[] {
  const out: string[] = [];
  for (let i = 0; i < process.execArgv.length; i += 1) {
    const arg = process.execArgv[i]!;
    const name = arg.split('=')[0]!;
    if (LOADER_FLAGS.has(name)) {
      if (!arg.includes('=')) i += 1;
      continue;
    }
    out.push(arg);
  }
  return out;
}

/**
 * A BatchWriter whose connection lives in a worker thread (a dialect's writer-thread.ts). The
 * server thread keeps planning the next batch and serving sockets while this one commits, and the
 * commit's round trips never wait behind the server thread's work. Messages are handled in order,
 * so batches are written, and answered, in the order they were posted.
 */
export class ThreadedBatchWriter implements BatchWriter {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve(r: WriteResult): void; reject(e: Error): void }>();
  #nextId = 1;
  #dead: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (message: FromWriter) => {
      if (!('id' in message)) return;
      const waiter = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if ('result' in message) waiter?.resolve(message.result);
      else waiter?.reject(new Error(message.error));
    });
    const fail = (error: Error) => {
      this.#dead ??= error;
      for (const waiter of this.#pending.values()) waiter.reject(this.#dead);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`storage writer thread exited (code ${code})`)));
  }

  /**
   * Start the thread running `module` (a file URL) with `data`, and wait until it says its
   * connection is open (the schema must already be migrated).
   */
  static async start(module: URL, data: object): Promise<ThreadedBatchWriter> {
    const workerData: WriterThreadStart = { ...data, module: fileURLToPath(module) };
    const worker = new Worker(new URL('./writer-thread-entry.mjs', import.meta.url), { workerData, execArgv: threadExecArgv() });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromWriter) => {
        if ('ready' in message) resolve();
        else if ('failed' in message) reject(new Error(`storage writer thread failed to start: ${message.failed}`));
        else return;
        worker.off('message', onMessage);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`storage writer thread exited during start (code ${code})`)));
    });
    worker.removeAllListeners('error');
    worker.removeAllListeners('exit');
    return new ThreadedBatchWriter(worker);
  }

  write(batch: WriteBatch): Promise<WriteResult> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise<WriteResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, batch } satisfies ToWriter);
    });
  }

  reset(): void {
    if (!this.#dead) this.#worker.postMessage({ id: this.#nextId++, reset: true } satisfies ToWriter);
  }

  /** Close the thread's connection (after everything written so far) and end the thread. */
  async close(): Promise<void> {
    if (this.#dead) return;
    const id = this.#nextId++;
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ id, close: true } satisfies ToWriter);
    await exited;
  }
}
