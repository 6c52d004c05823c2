import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../sql/schema.ts';
import type { WriteBatch, WriteItem, WriteResult, WrittenItem } from '../contract.ts';
import { eventJson } from '../contract.ts';
import { lastEventIdIn } from '../sql/log-reads.ts';
import { InboxAssigner, isRunEvent, newestInGroup, newestRowsOf } from '../sql/compact-inbox.ts';
import { applyProjection, insertInboxRows, type AssignedItem } from '../sql/projection-sql.ts';
import type { BatchWriter } from '../engine/threaded-writer.ts';
import { SQLITE, type AppendHotPath } from './sqlite-database.ts';

/**
 * Writes batches on the connection it is given. As the only writer of a database file it hands
 * out event ids and inbox seqs itself, from caches of the newest id, of each user's head and open
 * run (compact-inbox.ts) and of each group's newest conv_ord, which it loads on first use and drops
 * when a batch rolls back. It runs on the server's thread
 * (`storage.writer=inline`, tools) or in a worker thread with its own connection
 * (`storage.writer=thread`, the server default); everything it is given and returns is plain data.
 */
export class SqliteBatchWriter implements BatchWriter {
  readonly #db: Kysely<Database>;
  readonly #hotPath: AppendHotPath | undefined;
  readonly #inbox = new InboxAssigner(SQLITE.compactInbox);
  /** Each group's newest conv_ord, loaded on first use. */
  readonly #groupOrds = new Map<string, number>();
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
      // Rolled back: the cached id, heads, runs and conv_ords may count rows that never committed.
      this.#inbox.clear();
      this.#groupOrds.clear();
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
    // Before this batch's events exist: a run's end is derived from its group's newest run event.
    await this.#learnRecipients(trx, items);
    let lastEventId = this.#lastEventId ?? await lastEventIdIn(trx);
    const written: WrittenItem[] = [];
    const assigned: AssignedItem[] = [];
    const inboxRows: Database['inbox'][] = [];
    for (const item of items) {
      const { event } = item;
      const id = lastEventId + 1;
      const ord = isRunEvent(event.kind, event.conversation) ? this.#groupOrds.get(event.conversation)! + 1 : null;
      const row: Database['events'] = {
        id, kind: event.kind, conversation: event.conversation, sender: event.sender, client_msg_id: event.clientMsgId,
        message_id: event.messageId, at: event.at, json: eventJson(id, event.body), conv_ord: ord,
      };
      // Resends of messages committed earlier are found by the unique index, so the common path
      // (no resend) costs no lookup at all.
      if (!await this.#insertEvent(trx, row)) {
        written.push({ resent: true });
        continue;
      }
      lastEventId = id;
      this.#lastEventId = id;
      if (ord !== null) this.#groupOrds.set(event.conversation, ord);
      const seqs = this.#inbox.assign(item, id, ord, inboxRows);
      written.push({ eventId: id, seqs });
      assigned.push({ item, eventId: id, seqs });
    }
    if (this.#hotPath) for (const row of inboxRows) this.#hotPath.insertInbox(row);
    else await insertInboxRows(trx, SQLITE, inboxRows);
    await applyProjection(trx, SQLITE, assigned, cursors, this.#hotPath);
    return { items: written };
  }

  /** Heads and open runs of recipients seen for the first time, and the newest conv_ord of the groups involved. */
  async #learnRecipients(trx: Transaction<Database>, items: readonly WriteItem[]): Promise<void> {
    const missing = new Set<string>();
    const groups = new Set<string>();
    for (const { event, recipients } of items) {
      if (isRunEvent(event.kind, event.conversation)) groups.add(event.conversation);
      for (const user of recipients) if (!this.#inbox.knows(user)) missing.add(user);
    }
    const newest = await newestRowsOf(trx, [...missing], SQLITE.maxParams);
    for (const row of newest.values()) if (row.runOrd !== null) groups.add(row.conversation);
    for (const group of groups) {
      if (!this.#groupOrds.has(group)) this.#groupOrds.set(group, (await newestInGroup(trx, group))?.ord ?? 0);
    }
    for (const user of missing) {
      const row = newest.get(user);
      if (!row || row.runOrd === null) {
        this.#inbox.know(user, row?.seq ?? 0, undefined);
        continue;
      }
      // The newest row starts a run: it holds every run event of its group since (compact-inbox.ts).
      const lastOrd = this.#groupOrds.get(row.conversation)!;
      this.#inbox.know(user, row.seq + lastOrd - row.runOrd, { conversation: row.conversation, lastOrd });
    }
  }
}
