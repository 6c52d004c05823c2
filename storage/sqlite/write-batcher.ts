import { sql, type Kysely, type Transaction } from 'kysely';

interface Queued<DB> {
  work: (trx: Transaction<DB>) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Group commit for the server thread's own writes (push outbox, registrations, trace). Beside the
 * storage writer thread every such write waits at the write gate for the writer's current
 * transaction (milliseconds to tens of them), and Kysely runs them one at a time on one
 * connection: one write per wait capped the push dispatcher at about 50 jobs/s in the
 * 5,000-device load run. Writes that queue up while a commit waits go into the next transaction
 * together, each in a savepoint so one that fails is undone alone; callers hear back after the
 * commit, which starts one event-loop turn after the first write arrives.
 */
export class WriteBatcher<DB> {
  readonly #db: Kysely<DB>;
  #queue: Queued<DB>[] = [];
  #running = false;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  run<T>(work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      // One event-loop turn first, so the writes of every I/O callback of this turn (the vendors'
      // answers, the triggers they set off) share one commit: each commit holds the gate against
      // the log writer and blocks this thread for its fsync.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.#queue.length > 0) {
        const outcomes: Array<{ item: Queued<DB>; ok: boolean; value: unknown }> = [];
        let taken: Queued<DB>[] | undefined;
        try {
          await this.#db.transaction().execute(async (trx) => {
            // Taken once the transaction has begun (gate held): everything queued meanwhile joins.
            taken = this.#queue.splice(0);
            for (const item of taken) {
              await sql`savepoint batched_write`.execute(trx);
              try {
                outcomes.push({ item, ok: true, value: await item.work(trx) });
                await sql`release batched_write`.execute(trx);
              } catch (error) {
                await sql`rollback to batched_write`.execute(trx);
                await sql`release batched_write`.execute(trx);
                outcomes.push({ item, ok: false, value: error });
              }
            }
          });
        } catch (error) {
          // Nothing of this batch is stored (or it never began): every caller in it hears so.
          for (const item of taken ?? this.#queue.splice(0)) item.reject(error);
          continue;
        }
        for (const { item, ok, value } of outcomes) (ok ? item.resolve : item.reject)(value);
      }
    } finally {
      this.#running = false;
    }
  }
}
