import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { applyCallChange, applyGroupChange, project, type ProjectionState } from '../domain/projector.ts';
import { toWriteItem } from '../write-item.ts';
import { draftFromStored } from '../domain/replay.ts';
import { applyProjection, insertInboxRows, type AssignedItem } from './projection-sql.ts';
import { InboxAssigner } from './compact-inbox.ts';
import type { SqlDialect } from './dialect.ts';

/** The read models that rebuild recomputes from the log; the live writers maintain the same tables. */
export const REBUILT_TABLES = ['inbox', 'groups', 'group_members', 'group_join_requests', 'conversation_state', 'calls'] as const;

/**
 * Recompute every read model from the events table alone (LOG-4), inside one transaction. Events
 * are replayed in log order with the live projector and written with the live writers' own SQL
 * (projection-sql.ts), a page at a time as one batch, so seqs, memberships and unread counts come
 * out identical to what the live writer produced.
 */
export async function rebuildReadModels(db: Kysely<Database>, dialect: SqlDialect, pageSize = 5000): Promise<{ events: number }> {
  let count = 0;
  await db.transaction().execute(async (trx) => {
    for (const table of REBUILT_TABLES) await trx.deleteFrom(table).execute();
    const state: ProjectionState = { groups: new Map(), calls: new Map() };
    const inbox = new InboxAssigner(dialect.compactInbox);
    let after = 0;
    for (;;) {
      const page = await trx.selectFrom('events').selectAll().where('id', '>', after).orderBy('id').limit(pageSize).execute();
      if (page.length === 0) break;
      const assigned: AssignedItem[] = [];
      const rows: Database['inbox'][] = [];
      for (const row of page) {
        const draft = draftFromStored(row.kind, row.sender, row.conversation, row.client_msg_id, row.json);
        // Limits applied when the event was appended; replay must accept what the log holds.
        const projected = project(draft, Number(row.at), state, { maxGroupMembers: Number.POSITIVE_INFINITY, replay: true }, row.message_id ?? undefined);
        if (projected.groupChange) applyGroupChange(state, projected.groupChange);
        if (projected.callChange) applyCallChange(state, projected.callChange);
        const item = toWriteItem(projected);
        const ord = row.conv_ord === null ? null : Number(row.conv_ord);
        const seqs = inbox.assign(item, Number(row.id), ord, rows);
        assigned.push({ item, eventId: Number(row.id), seqs });
        after = Number(row.id);
        count += 1;
      }
      await insertInboxRows(trx, dialect, rows);
      await applyProjection(trx, dialect, assigned);
    }
  });
  return { events: count };
}
