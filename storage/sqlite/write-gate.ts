import type { CompiledQuery, DatabaseConnection, Driver, QueryResult, TransactionSettings } from 'kysely';

const LOCK = 0;
const WAITING = 1;

type WaitAsync = (array: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<string> | string };

/**
 * One SQLite writer at a time across the server thread and the storage writer thread, fairly.
 * SQLite's own busy handler polls with sleeps: against a writer thread that starts its next
 * transaction right after each commit, the server thread's writes (push outbox, settings) hardly
 * ever got the lock and failed with SQLITE_BUSY after blocking the event loop for busy_timeout
 * (seen in `tidings load --devices 5000`). Here the server thread waits without blocking
 * (Atomics.waitAsync) and the writer thread gives way whenever it is waiting.
 */
export class WriteGate {
  readonly #cells: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    this.#cells = new Int32Array(buffer);
  }

  /** Shared with the writer thread through workerData. */
  get buffer(): SharedArrayBuffer {
    return this.#cells.buffer as SharedArrayBuffer;
  }

  /** Writer thread: block until the gate is ours, after any waiting server-thread writer. */
  acquireBlocking(): void {
    const cells = this.#cells;
    for (;;) {
      for (let waiting = Atomics.load(cells, WAITING); waiting > 0; waiting = Atomics.load(cells, WAITING)) {
        Atomics.wait(cells, WAITING, waiting, 100);
      }
      if (Atomics.compareExchange(cells, LOCK, 0, 1) === 0) return;
      Atomics.wait(cells, LOCK, 1, 100);
    }
  }

  /** Server thread: resolves once the gate is ours; never blocks the event loop. */
  async acquire(): Promise<void> {
    const cells = this.#cells;
    Atomics.add(cells, WAITING, 1);
    try {
      for (;;) {
        if (Atomics.compareExchange(cells, LOCK, 0, 1) === 0) return;
        const waited = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(cells, LOCK, 1, 100);
        if (waited.async) await waited.value;
      }
    } finally {
      Atomics.sub(cells, WAITING, 1);
      Atomics.notify(cells, WAITING);
    }
  }

  release(): void {
    Atomics.store(this.#cells, LOCK, 0);
    Atomics.notify(this.#cells, LOCK);
  }
}

// Reads need no gate (WAL readers never wait for the writer); everything else takes it, and a
// transaction holds it from `begin` to its end.
function isPlainRead(query: CompiledQuery): boolean {
  return query.query.kind === 'SelectQueryNode' || /^\s*select\b/i.test(query.sql);
}

/** A second, read-only SQLite connection of the server thread (better-sqlite3 style). */
export interface ReadConnection {
  prepare(sql: string): { all(parameters: readonly unknown[]): unknown[] };
  close(): void;
}

/**
 * Kysely runs every query of a dialect on one connection behind a mutex, so a read used to queue
 * behind any write or transaction waiting at the gate (tens of ms while the writer thread
 * commits): under load the push dispatcher's and sync's reads waited seconds. A plain read
 * outside a transaction therefore runs on its own read connection at once; the write connection
 * (and its mutex) is taken only by the first write or `begin`.
 */
class GatedConnection implements DatabaseConnection {
  #writer: DatabaseConnection | undefined;
  #holdsGate = false;
  constructor(readonly driver: GatedDriver) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (!this.#writer && isPlainRead(query)) {
      return { rows: this.driver.reader.prepare(query.sql).all(query.parameters) as R[] };
    }
    this.#writer ??= await this.driver.inner.acquireConnection();
    if (!this.#holdsGate && !isPlainRead(query)) {
      await this.driver.gate.acquire();
      this.#holdsGate = true;
    }
    return this.#writer.executeQuery<R>(query);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    this.#writer ??= await this.driver.inner.acquireConnection();
    yield* this.#writer.streamQuery<R>(query, chunkSize);
  }

  async release(): Promise<void> {
    if (this.#holdsGate) {
      this.#holdsGate = false;
      this.driver.gate.release();
    }
    const writer = this.#writer;
    this.#writer = undefined;
    if (writer) await this.driver.inner.releaseConnection(writer);
  }
}

/** The server thread's driver when a writer thread exists: every write passes the gate. */
export class GatedDriver implements Driver {
  constructor(readonly inner: Driver, readonly gate: WriteGate, readonly reader: ReadConnection) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new GatedConnection(this);
  }

  // `begin` runs through the gated connection, so it takes the write connection and the gate.
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await (connection as GatedConnection).release();
  }

  async destroy(): Promise<void> {
    await this.inner.destroy();
    this.reader.close();
  }
}
