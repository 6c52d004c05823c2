import { parentPort, workerData } from 'node:worker_threads';
import { openSqlite, type StorageConfig } from './create-database.ts';
import { InlineBatchWriter } from './append-writer.ts';
import type { FromWriter, ToWriter } from './threaded-writer.ts';

/** The storage writer thread: one connection, one batch at a time, replies in order. */
const port = parentPort!;
const reply = (message: FromWriter) => port.postMessage(message);

try {
  const { db, hotPath, close } = openSqlite(workerData as StorageConfig);
  const writer = new InlineBatchWriter(db, hotPath);
  // Batches are written strictly one after another, in arrival order.
  let chain = Promise.resolve();
  port.on('message', (message: ToWriter) => {
    chain = chain.then(async () => {
      if ('close' in message) {
        await close();
        port.close();
        return;
      }
      if ('reset' in message) {
        writer.reset();
        return;
      }
      try {
        reply({ id: message.id, result: await writer.write(message.batch) });
      } catch (error) {
        reply({ id: message.id, error: error instanceof Error ? error.message : String(error) });
      }
    });
  });
  reply({ ready: true });
} catch (error) {
  reply({ failed: error instanceof Error ? error.message : String(error) });
}
