import type { ClientFrameOf, ServerFrameOf } from './wire.ts';
import { TidingsError } from './errors.ts';
import type { OutboxEntry, TidingsStore } from './store.ts';

/** What `send()` resolves with: the server's `send_ack` (the original's, if this was a resend). */
export type SendResult = Omit<ServerFrameOf<'send_ack'>, 'type' | 'ref'>;

/** Progress of one outgoing message, as the `outbox` event reports it. */
export type OutboxStatus =
  | { status: 'queued'; clientMsgId: string; entry: OutboxEntry }
  | { status: 'sent'; clientMsgId: string; attempt: number }
  | { status: 'acked'; clientMsgId: string; result: SendResult }
  | { status: 'failed'; clientMsgId: string; error: TidingsError };

interface Item {
  entry: OutboxEntry;
  persisted: boolean;
  waiters: Array<{ resolve: (result: SendResult) => void; reject: (error: TidingsError) => void }>;
  writtenOn: number | undefined;
  writtenAt: number;
  attempts: number;
  notBefore: number;
}

export interface OutboxLink {
  id: number;
  write(frame: ClientFrameOf<'send'>): void;
}

/**
 * Sends that have no `send_ack` yet, in the order the app made them. Each is persisted before it
 * is first written, written again with the SAME clientMsgId on every new connection (and after a
 * retryable error or an ack timeout), and removed when acked: a `duplicate: true` ack means an
 * earlier attempt was stored and resolves the original send (LOG-2).
 */
export class Outbox {
  readonly #items = new Map<string, Item>();
  readonly #refs = new Map<string, string>();
  #nextRef = 1;
  readonly #store: TidingsStore;
  readonly #report: (status: OutboxStatus) => void;
  readonly #changed: () => void;

  constructor(store: TidingsStore, report: (status: OutboxStatus) => void, changed: () => void) {
    this.#store = store;
    this.#report = report;
    this.#changed = changed;
  }

  get size(): number {
    return this.#items.size;
  }

  entries(): OutboxEntry[] {
    return [...this.#items.values()].map((item) => item.entry);
  }

  /** Entries found in the store at start (a previous run's unacked sends). */
  restore(entries: readonly OutboxEntry[]): void {
    for (const entry of entries) {
      if (!this.#items.has(entry.clientMsgId)) this.#items.set(entry.clientMsgId, this.#item(entry, true));
    }
  }

  add(entry: OutboxEntry): Promise<SendResult> {
    const existing = this.#items.get(entry.clientMsgId);
    const item = existing ?? this.#item(entry, false);
    const result = new Promise<SendResult>((resolve, reject) => item.waiters.push({ resolve, reject }));
    if (existing) return result;
    this.#items.set(entry.clientMsgId, item);
    this.#report({ status: 'queued', clientMsgId: entry.clientMsgId, entry });
    Promise.resolve(this.#store.putOutbox(entry)).then(() => {
      item.persisted = true;
      this.#changed();
    }, (error: unknown) => {
      this.#items.delete(entry.clientMsgId);
      const failure = error instanceof TidingsError ? error
        : new TidingsError('internal', `The store could not keep the message: ${String(error)}`, { retryable: true, request: 'send' });
      for (const waiter of item.waiters) waiter.reject(failure);
      this.#report({ status: 'failed', clientMsgId: entry.clientMsgId, error: failure });
    });
    return result;
  }

  /**
   * Write what is due on this connection, oldest first. Stops at an entry that is not persisted
   * yet, so messages leave in the order they were made.
   */
  pump(link: OutboxLink, now: number): void {
    for (const item of this.#items.values()) {
      if (!item.persisted) break;
      if (item.writtenOn === link.id || item.notBefore > now) continue;
      const ref = `s${this.#nextRef++}`;
      this.#refs.set(ref, item.entry.clientMsgId);
      item.writtenOn = link.id;
      item.writtenAt = now;
      item.attempts += 1;
      const { clientMsgId, to, content, push } = item.entry;
      link.write({ type: 'send', ref, clientMsgId, to, content, ...(push ? { push } : {}) });
      this.#report({ status: 'sent', clientMsgId, attempt: item.attempts });
    }
  }

  /** A new connection: nothing waits for an earlier connection's retry delay. */
  resetDelays(): void {
    for (const item of this.#items.values()) item.notBefore = 0;
  }

  /** Entries written more than `timeoutMs` ago and not acked are written again (same id). */
  expire(now: number, timeoutMs: number): boolean {
    let any = false;
    for (const item of this.#items.values()) {
      if (item.writtenOn !== undefined && now - item.writtenAt > timeoutMs) {
        item.writtenOn = undefined;
        any = true;
      }
    }
    return any;
  }

  onAck(frame: ServerFrameOf<'send_ack'>): void {
    if (frame.ref) this.#refs.delete(frame.ref);
    const item = this.#items.get(frame.clientMsgId);
    if (!item) return; // a late ack of an attempt already answered
    this.#items.delete(frame.clientMsgId);
    const { type: _type, ref: _ref, ...result } = frame;
    void Promise.resolve(this.#store.deleteOutbox(frame.clientMsgId)).catch(() => undefined);
    for (const waiter of item.waiters) waiter.resolve(result);
    this.#report({ status: 'acked', clientMsgId: frame.clientMsgId, result });
  }

  /** An error for one of our send refs; false when the ref is not a send's. */
  onError(ref: string, error: TidingsError, now: number): boolean {
    const clientMsgId = this.#refs.get(ref);
    if (clientMsgId === undefined) return false;
    this.#refs.delete(ref);
    const item = this.#items.get(clientMsgId);
    if (!item) return true;
    if (error.retryable) {
      item.writtenOn = undefined;
      item.notBefore = now + (error.retryAfterMs ?? 1000);
      return true;
    }
    this.cancel(clientMsgId, error);
    return true;
  }

  /** Give up on one message: its promise rejects, it is removed from the store. */
  cancel(clientMsgId: string, error: TidingsError): boolean {
    const item = this.#items.get(clientMsgId);
    if (!item) return false;
    this.#items.delete(clientMsgId);
    void Promise.resolve(this.#store.deleteOutbox(clientMsgId)).catch(() => undefined);
    for (const waiter of item.waiters) waiter.reject(error);
    this.#report({ status: 'failed', clientMsgId, error });
    return true;
  }

  /** The connection dropped: everything is written again on the next one. */
  disconnected(): void {
    for (const item of this.#items.values()) item.writtenOn = undefined;
    this.#refs.clear();
  }

  /** The client closed for good: promises reject, entries stay in the store for a later client. */
  rejectWaiters(error: TidingsError): void {
    for (const item of this.#items.values()) {
      for (const waiter of item.waiters.splice(0)) waiter.reject(error);
    }
  }

  /** Earliest retry time of an entry waiting for one (to schedule a pump), if any. */
  nextRetryAt(): number | undefined {
    let next: number | undefined;
    for (const item of this.#items.values()) {
      if (item.writtenOn === undefined && item.notBefore > 0) next = Math.min(next ?? item.notBefore, item.notBefore);
    }
    return next;
  }

  #item(entry: OutboxEntry, persisted: boolean): Item {
    return { entry, persisted, waiters: [], writtenOn: undefined, writtenAt: 0, attempts: 0, notBefore: 0 };
  }
}
