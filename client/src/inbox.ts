import type { DeliveredEvent } from './wire.ts';

/**
 * The inbox cursor and deduplication. Within one session the server delivers increasing seqs
 * (a sync may skip the ring of a call that is already over), so the cursor is simply the highest
 * seq accepted: anything at or below it was delivered or deliberately skipped (SYNC-2). Across
 * connections delivery is at least once; an event at or below the cursor, or a message whose
 * messageId was already seen, is a duplicate.
 */
export class Inbox {
  cursor: number;
  readonly #seenMessageIds = new Set<string>();
  readonly #maxRemembered: number;

  constructor(cursor = 0, maxRemembered = 5000) {
    this.cursor = cursor;
    this.#maxRemembered = maxRemembered;
  }

  /** True when the event is new and should reach the app; advances the cursor. */
  accept(event: DeliveredEvent): boolean {
    if (event.seq <= this.cursor) return false;
    this.cursor = event.seq;
    if (event.kind !== 'message') return true;
    if (this.#seenMessageIds.has(event.messageId)) return false;
    this.#seenMessageIds.add(event.messageId);
    if (this.#seenMessageIds.size > this.#maxRemembered) {
      // Sets iterate in insertion order: drop the oldest id.
      const oldest = this.#seenMessageIds.values().next().value;
      if (oldest !== undefined) this.#seenMessageIds.delete(oldest);
    }
    return true;
  }
}
