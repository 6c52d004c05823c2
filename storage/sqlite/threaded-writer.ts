import { Worker } from 'node:worker_threads';
import type { WriteBatch, WriteResult } from '../contract.ts';
import type { BatchWriter } from './sqlite-writer.ts';
import type { SqliteStorageConfig } from './sqlite-database.ts';
import type { WriteGate } from './write-gate.ts';

export interface WriterThreadData {
  config: SqliteStorageConfig;
  /** The WriteGate's cells: the thread takes the gate around each transaction. */
  gate: SharedArrayBuffer;
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
 * A BatchWriter whose SQLite connection lives in a worker thread (writer-thread.ts). The server
 * thread keeps planning the next batch and serving sockets while this one commits. Messages are
 * handled in order, so batches are written, and answered, in the order they were posted.
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

  /** Start the thread and wait until its connection is open (the schema must already be migrated). */
  static async start(config: SqliteStorageConfig, gate: WriteGate): Promise<ThreadedBatchWriter> {
    const workerData: WriterThreadData = { config, gate: gate.buffer };
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
