import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../sql/schema.ts';
import type { WriteBatch, WriteResult, WrittenItem } from '../contract.ts';
import { eventJson } from '../contract.ts';
import { inboxHeadsIn, lastEventIdIn } from '../sql/log-reads.ts';
import { applyProjection, inboxRowsOf, insertInboxRows, type AssignedItem } from '../sql/projection-sql.ts';
import { SQLITE, type AppendHotPath } from './sqlite-database.ts';

/** The part of a LogBackend that writes; on SQLite it runs on the server's thread or in the writer thread. */
export interface BatchWriter {
  write(batch: WriteBatch): Promise<WriteResult>;
  reset(): void;
  close(): Promise<void>;
}

/**
 * Writes batches on the connection it is given. As the only writer of a database file it hands
 * out event ids and inbox seqs itself, from caches of the newest id and of each user's head that
 * it loads on first use and drops when a batch rolls back. It runs on the server's thread
 * (`storage.writer=inline`, tools) or in a worker thread with its own connection
 * (`storage.writer=thread`, the server default); everything it is given and returns is plain data.
 */
export class SqliteBatchWriter implements BatchWriter {
  readonly #db: Kysely<Database>;
  readonly #hotPath: AppendHotPath | undefined;
  readonly #heads = new Map<string, number>();
  #lastEventId: number | undefined;
  // Set by a failed batch: later ones were planned on its effects and must not be written.
  #poisoned: Error | undefined;

  constructor(db: Kysely<Database>, hotPath: AppendHotPath | undefined) {
    this.#db = db;
    this.#hotPath = hotPath;
  }

  async write(batch: WriteBatch): Promise<WriteResult> {
    return (await this.writeMany([batch]))[0]!;
  }

  /** Several batches, in order, in one transaction (one commit): all are written or none. */
  async writeMany(batches: WriteBatch[]): Promise<WriteResult[]> {
    if (batches.every((b) => b.items.length === 0 && b.cursors.length === 0)) return batches.map(() => ({ items: [] }));
    try {
      return await this.#db.transaction().execute(async (trx) => {
        // Checked on the connection: a write queued behind a failing one must see its failure.
        if (this.#poisoned) throw new Error(`not written: an earlier batch failed (${this.#poisoned.message})`);
        const results: WriteResult[] = [];
        for (const batch of batches) results.push(await this.#write(trx, batch));
        return results;
      });
    } catch (error) {
      // Rolled back: the cached id and heads may count rows that never committed.
      this.#heads.clear();
      this.#lastEventId = undefined;
      this.#poisoned = error instanceof Error ? error : new Error(String(error));
      throw error;
    }
  }

  reset(): void {
    this.#poisoned = undefined;
  }

  async close(): Promise<void> {}

  async #insertEvent(trx: Transaction<Database>, row: Database['events']): Promise<boolean> {
    if (this.#hotPath) return this.#hotPath.insertEvent(row);
    const inserted = await trx.insertInto('events').values(row)
      .onConflict((oc) => oc.columns(['sender', 'client_msg_id']).where('client_msg_id', 'is not', null).doNothing())
      .returning('id').executeTakeFirst();
    return inserted !== undefined;
  }

  async #write(trx: Transaction<Database>, { items, cursors }: WriteBatch): Promise<WriteResult> {
    let lastEventId = this.#lastEventId ?? await lastEventIdIn(trx);
    const written: WrittenItem[] = [];
    const stored: Array<{ index: number; eventId: number }> = [];
    for (const [index, { event }] of items.entries()) {
      const id = lastEventId + 1;
      const row: Database['events'] = {
        id, kind: event.kind, conversation: event.conversation, sender: event.sender, client_msg_id: event.clientMsgId,
        message_id: event.messageId, at: event.at, json: eventJson(id, event.body),
      };
      // Resends of messages committed earlier are found by the unique index, so the common path
      // (no resend) costs no lookup at all.
      if (await this.#insertEvent(trx, row)) {
        lastEventId = id;
        this.#lastEventId = id;
        stored.push({ index, eventId: id });
        written.push({ eventId: id, seqs: [] });
      } else {
        written.push({ resent: true });
      }
    }
    const missing = new Set<string>();
    for (const { index } of stored) for (const user of items[index]!.recipients) if (!this.#heads.has(user)) missing.add(user);
    for (const [user, head] of await inboxHeadsIn(trx, [...missing], SQLITE.maxParams)) this.#heads.set(user, head);
    const assigned: AssignedItem[] = stored.map(({ index, eventId }) => {
      const item = items[index]!;
      const seqs = item.recipients.map((user) => {
        const seq = this.#heads.get(user)! + 1;
        this.#heads.set(user, seq);
        return seq;
      });
      (written[index] as { seqs: number[] }).seqs = seqs;
      return { item, eventId, seqs };
    });
    const inboxRows = inboxRowsOf(assigned);
    if (this.#hotPath) for (const row of inboxRows) this.#hotPath.insertInbox(row);
    else await insertInboxRows(trx, SQLITE, inboxRows);
    await applyProjection(trx, SQLITE, assigned, cursors, this.#hotPath);
    return { items: written };
  }
}
