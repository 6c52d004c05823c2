import { parentPort, workerData } from 'node:worker_threads';
import type { FromWriter, ToWriter, WriterThreadStart } from '../engine/threaded-writer.ts';
import type { ProjectionLimits } from '../domain/projector.ts';
import { connect, type PostgresStorageConfig } from './postgres-database.ts';
import { PostgresBatchWriter } from './postgres-writer.ts';

export interface WriterThreadData extends WriterThreadStart {
  config: PostgresStorageConfig;
  limits: ProjectionLimits;
}

/*
 * The PostgreSQL writer thread: the append transactions run here, on a pool of their own. Each
 * transaction holds its groups' and recipients' row locks from its first statement to COMMIT, and
 * every other writer in the cluster that shares one of those rows waits that long; on the server
 * thread each round trip also waits for the event loop (delivery, planning), here only for the
 * database. Batches are handed to the writer in arrival order; it writes them one at a time.
 */
const port = parentPort!;
const reply = (message: FromWriter) => port.postMessage(message);

try {
  const data = workerData as WriterThreadData;
  const db = connect({ ...data.config, poolSize: 2 });
  const writer = new PostgresBatchWriter(db, data.limits);
  port.on('message', (message: ToWriter) => {
    if ('batch' in message) {
      writer.write(message.batch).then(
        (result) => reply({ id: message.id, result }),
        (error: unknown) => reply({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
    } else if ('reset' in message) {
      writer.reset();
    } else {
      void writer.close().then(() => db.destroy()).finally(() => port.close());
    }
  });
  // The pool connects lazily: open one connection now, so a wrong URL fails the start.
  db.connection().execute(async () => undefined).then(
    () => reply({ ready: true }),
    (error: unknown) => reply({ failed: error instanceof Error ? error.message : String(error) }),
  );
} catch (error) {
  reply({ failed: error instanceof Error ? error.message : String(error) });
}
