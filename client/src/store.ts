import type { Content, PushOptions, Recipient } from './wire.ts';

/** An outgoing message that has not been acknowledged yet (kept until its `send_ack`). */
export interface OutboxEntry {
  clientMsgId: string;
  to: Recipient;
  content: Content;
  push?: PushOptions;
  /** ms since epoch, when the app called send(). */
  createdAt: number;
}

export interface StoredState {
  /** Newest inbox seq processed; undefined for a device that never synced with this store. */
  cursor: number | undefined;
  /** Unacknowledged sends, oldest first. */
  outbox: OutboxEntry[];
}

/**
 * Where a client keeps what must survive a reload: the inbox cursor (resync from here) and the
 * outbox (resent with the same clientMsgId). Methods may be synchronous or return promises, so
 * IndexedDB, SQLite or a native key-value store fit the same interface. Use one store per
 * (user, device).
 */
export interface TidingsStore {
  load(): StoredState | Promise<StoredState>;
  saveCursor(seq: number): void | Promise<void>;
  putOutbox(entry: OutboxEntry): void | Promise<void>;
  deleteOutbox(clientMsgId: string): void | Promise<void>;
}

/** The default: nothing survives the process, the client still resumes across reconnects. */
export class MemoryStore implements TidingsStore {
  cursor: number | undefined;
  readonly outbox = new Map<string, OutboxEntry>();

  load(): StoredState {
    return { cursor: this.cursor, outbox: [...this.outbox.values()] };
  }
  saveCursor(seq: number): void {
    this.cursor = seq;
  }
  putOutbox(entry: OutboxEntry): void {
    this.outbox.set(entry.clientMsgId, entry);
  }
  deleteOutbox(clientMsgId: string): void {
    this.outbox.delete(clientMsgId);
  }
}

/** The subset of the Web Storage API used (window.localStorage, sessionStorage, or a stand-in). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface LocalStorageStoreOptions {
  /** Key prefix; include the user and device, e.g. `tidings:alice:laptop-1:` (default `tidings:`). */
  prefix?: string;
  /** Default: globalThis.localStorage. */
  storage?: StorageLike;
}

/** Browsers: the cursor and the outbox in localStorage, two keys under a prefix. */
export class LocalStorageStore implements TidingsStore {
  readonly #prefix: string;
  readonly #storage: StorageLike;

  constructor(options: LocalStorageStoreOptions = {}) {
    this.#prefix = options.prefix ?? 'tidings:';
    const storage = options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
    if (!storage) throw new TypeError('LocalStorageStore needs localStorage (or pass `storage`).');
    this.#storage = storage;
  }

  load(): StoredState {
    const cursor = Number(this.#storage.getItem(`${this.#prefix}cursor`) ?? Number.NaN);
    return { cursor: Number.isInteger(cursor) && cursor >= 0 ? cursor : undefined, outbox: this.#readOutbox() };
  }
  saveCursor(seq: number): void {
    this.#storage.setItem(`${this.#prefix}cursor`, String(seq));
  }
  putOutbox(entry: OutboxEntry): void {
    const outbox = this.#readOutbox().filter((e) => e.clientMsgId !== entry.clientMsgId);
    outbox.push(entry);
    this.#writeOutbox(outbox);
  }
  deleteOutbox(clientMsgId: string): void {
    this.#writeOutbox(this.#readOutbox().filter((e) => e.clientMsgId !== clientMsgId));
  }

  #readOutbox(): OutboxEntry[] {
    try {
      const parsed: unknown = JSON.parse(this.#storage.getItem(`${this.#prefix}outbox`) ?? '[]');
      return Array.isArray(parsed) ? (parsed as OutboxEntry[]) : [];
    } catch {
      return []; // a corrupt value must not stop the app from connecting
    }
  }
  #writeOutbox(outbox: OutboxEntry[]): void {
    if (outbox.length === 0) this.#storage.removeItem(`${this.#prefix}outbox`);
    else this.#storage.setItem(`${this.#prefix}outbox`, JSON.stringify(outbox));
  }
}
