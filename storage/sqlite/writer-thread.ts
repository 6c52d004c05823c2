import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { openSqlite } from './sqlite-database.ts';
import { SqliteBatchWriter } from './sqlite-writer.ts';
import { WriteGate } from './write-gate.ts';
import type { FromWriter, ToWriter, WriterThreadStart } from '../engine/threaded-writer.ts';
import type { SqliteStorageConfig } from './sqlite-database.ts';

export interface WriterThreadData extends WriterThreadStart {
  config: SqliteStorageConfig;
  /** The WriteGate's cells: the thread takes the gate around each transaction. */
  gate: SharedArrayBuffer;
}

/**
 * The storage writer thread: one connection, messages handled strictly in arrival order. Batches
 * that queued up while a commit was running are written together in one transaction, so the
 * server thread may hand over small batches early without paying a commit for each.
 */
const port = parentPort!;
const reply = (message: FromWriter) => port.postMessage(message);
type BatchMessage = Extract<ToWriter, { batch: unknown }>;
const IDLE_CHECKPOINT_MS = 1000;

try {
  const data = workerData as WriterThreadData;
  const gate = new WriteGate(data.gate);
  const { db, hotPath, close, checkpoint } = openSqlite(data.config);
  const writer = new SqliteBatchWriter(db, hotPath);
  const inbox: ToWriter[] = [];
  let running = false;

  const writeBatches = async (batches: BatchMessage[]) => {
    gate.acquireBlocking();
    try {
      const results = await writer.writeMany(batches.map((m) => m.batch));
      batches.forEach((m, i) => reply({ id: m.id, result: results[i]! }));
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      for (const m of batches) reply({ id: m.id, error: text });
    } finally {
      gate.release();
    }
  };

  const run = async () => {
    running = true;
    while (inbox.length > 0) {
      // Everything already posted joins this pass (synchronously: no event-loop turn needed).
      for (let more = receiveMessageOnPort(port); more; more = receiveMessageOnPort(port)) inbox.push(more.message as ToWriter);
      const batches: BatchMessage[] = [];
      while (inbox.length > 0 && 'batch' in inbox[0]!) batches.push(inbox.shift() as BatchMessage);
      if (batches.length > 0) {
        await writeBatches(batches);
        continue;
      }
      const control = inbox.shift()!;
      if ('reset' in control) writer.reset();
      else if ('close' in control) {
        clearInterval(idleCheckpoint);
        await close();
        port.close();
        return;
      }
    }
    running = false;
  };

  // The server thread's own commits (push outbox, registrations) never checkpoint, so a WAL they
  // grew while no batch came here would only grow: checkpoint it when idle.
  const idleCheckpoint = setInterval(() => {
    if (running) return;
    try {
      checkpoint();
    } catch {
      // Busy: the next one, or the next commit past the mark, does it.
    }
  }, IDLE_CHECKPOINT_MS);
  idleCheckpoint.unref();

  port.on('message', (message: ToWriter) => {
    inbox.push(message);
    if (!running) void run();
  });
  reply({ ready: true });
} catch (error) {
  reply({ failed: error instanceof Error ? error.message : String(error) });
}
