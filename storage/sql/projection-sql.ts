import { sql, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import type { CallRecord, CursorWrite, WriteItem } from '../contract.ts';
import type { GroupChange } from '../domain/group-rules.ts';
import { chunk, column, excluded, type SqlDialect } from './dialect.ts';
import { firstEntryAfter } from './inbox-by-event.ts';
import { unreadAfter } from './compact-inbox.ts';

/** A planned item once the backend gave it its event id and its recipients their seqs. */
export interface AssignedItem {
  item: WriteItem;
  eventId: number;
  seqs: number[];
}

export async function insertInboxRows(trx: Transaction<Database>, dialect: SqlDialect, rows: readonly Database['inbox'][]): Promise<void> {
  for (const part of chunk(rows, 6, dialect.maxParams)) await trx.insertInto('inbox').values(part).execute();
}

export async function upsertCall(trx: Transaction<Database>, call: CallRecord, eventId: number): Promise<void> {
  await trx.insertInto('calls').values({
    call_id: call.callId, inviter: call.inviter, state: call.state, invitees: JSON.stringify(call.invitees),
    deadline: call.deadline, created_event_id: eventId, updated_event_id: eventId,
  }).onConflict((oc) => oc.column('call_id').doUpdateSet({
    state: call.state, invitees: JSON.stringify(call.invitees), updated_event_id: eventId,
  })).execute();
}

/**
 * Everything a committed batch changes besides the events and inbox rows themselves: unread
 * counts and last event per (user, conversation), group membership, calls, read cursors, device
 * cursors. The live writers of every dialect and `rebuild` run this same code, so the rebuilt
 * read models equal the live ones by construction (LOG-4); a writer with a `hot` path runs the
 * two upserts through it instead, and the LOG-4 test compares the two.
 */
export async function applyProjection(
  trx: Transaction<Database>, dialect: SqlDialect, assigned: readonly AssignedItem[], cursors: readonly CursorWrite[] = [], hot?: ProjectionHotPath,
): Promise<void> {
  const conversations = conversationRowsOf(assigned);
  if (hot) for (const row of conversations) hot.upsertConversation(row);
  else {
    for (const part of chunk(conversations, 5, dialect.maxParams)) {
      await trx.insertInto('conversation_state').values(part).onConflict((oc) => oc.columns(['user_id', 'conversation']).doUpdateSet({
        unread: sql`conversation_state.unread + excluded.unread`,
        last_event_id: dialect.greatest(column('conversation_state.last_event_id'), excluded('last_event_id')),
      })).execute();
    }
  }
  for (const a of assigned) await applySideEffects(trx, dialect, a);
  const now = Date.now();
  if (hot) for (const cursor of cursors) hot.upsertCursor(cursor, now);
  else {
    for (const part of chunk(cursors, 4, dialect.maxParams)) {
      await trx.insertInto('device_cursors')
        .values(part.map((c) => ({ user_id: c.userId, device_id: c.deviceId, acked_seq: c.seq, updated_at: now })))
        .onConflict((oc) => oc.columns(['user_id', 'device_id']).doUpdateSet({
          acked_seq: dialect.greatest(column('device_cursors.acked_seq'), excluded('acked_seq')), updated_at: sql`excluded.updated_at`,
        })).execute();
    }
  }
}

/**
 * The same two upserts as applyProjection's, one row at a time through statements prepared once on
 * the writer's connection (SQLite). Multi-row upserts built by the query builder differed in length
 * from batch to batch, so each compiled afresh (the longer ones on every use) and building them
 * cost more than SQLite's own work for them (docs/PERFORMANCE.md, session 8).
 */
export interface ProjectionHotPath {
  /** Adds the row's unread to the stored count and keeps the larger last event id. */
  upsertConversation(row: Database['conversation_state']): void;
  /** Keeps the larger acked seq. */
  upsertCursor(cursor: CursorWrite, at: number): void;
}

/**
 * The `conversation_state` increments of a batch, one row per (user, conversation): unread to add
 * and the newest event id. A dialect that writes them its own way upserts these same rows (adding
 * unread, keeping the larger last id) before applySideEffects().
 */
export function conversationRowsOf(assigned: readonly AssignedItem[]): Database['conversation_state'][] {
  const convRows = new Map<string, Database['conversation_state']>();
  for (const { item, eventId } of assigned) {
    item.recipients.forEach((user, r) => {
      const key = `${user}\u0000${item.event.conversation}`;
      const row = convRows.get(key) ?? { user_id: user, conversation: item.event.conversation, read_event_id: 0, unread: 0, last_event_id: 0 };
      row.unread += item.countable[r]!;
      row.last_event_id = eventId;
      convRows.set(key, row);
    });
  }
  return [...convRows.values()];
}

/** The group tables after one group change (group-rules.ts says what each change means). */
export async function applyGroupSql(trx: Transaction<Database>, dialect: SqlDialect, change: GroupChange, eventId: number): Promise<void> {
  const { groupId } = change;
  const group = trx.updateTable('groups').where('group_id', '=', groupId);
  const member = (user: string) => trx.updateTable('group_members').where('group_id', '=', groupId).where('user_id', '=', user);
  if (change.create) {
    await trx.insertInto('groups').values({
      group_id: groupId, name: change.create.name, created_by: change.create.createdBy, created_event_id: eventId,
      owner: change.create.createdBy, join_policy: change.create.joinPolicy, dissolved_event_id: null,
    }).execute();
  }
  if (change.add?.length) {
    for (const part of chunk(change.add, 4, dialect.maxParams)) {
      await trx.insertInto('group_members').values(part.map((user_id) => ({
        group_id: groupId, user_id, joined_event_id: eventId, role: user_id === change.create?.createdBy ? 'owner' : 'member',
      }))).execute();
    }
    await trx.deleteFrom('group_join_requests').where('group_id', '=', groupId).where('user_id', 'in', change.add).execute();
  }
  if (change.remove?.length) {
    await trx.deleteFrom('group_members').where('group_id', '=', groupId).where('user_id', 'in', change.remove).execute();
  }
  if (change.owner !== undefined) {
    await trx.updateTable('group_members').set({ role: 'admin' }).where('group_id', '=', groupId).where('role', '=', 'owner').execute();
    await group.set({ owner: change.owner === '' ? null : change.owner }).execute();
    if (change.owner !== '') await member(change.owner).set({ role: 'owner' }).execute();
  }
  if (change.role) await member(change.role.user).set({ role: change.role.role }).execute();
  if (change.update?.name !== undefined) await group.set({ name: change.update.name }).execute();
  if (change.update?.joinPolicy !== undefined) await group.set({ join_policy: change.update.joinPolicy }).execute();
  if (change.request?.add !== undefined) {
    await trx.insertInto('group_join_requests').values({ group_id: groupId, user_id: change.request.add, event_id: eventId })
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doUpdateSet({ event_id: eventId })).execute();
  }
  if (change.request?.remove !== undefined) {
    await trx.deleteFrom('group_join_requests').where('group_id', '=', groupId).where('user_id', '=', change.request.remove).execute();
  }
  if (change.dissolve) {
    await group.set({ dissolved_event_id: eventId }).execute();
    await trx.deleteFrom('group_members').where('group_id', '=', groupId).execute();
    await trx.deleteFrom('group_join_requests').where('group_id', '=', groupId).execute();
  }
}

/** One item's group change, call change and read cursor (after the batch's conversation_state increments). */
export async function applySideEffects(trx: Transaction<Database>, dialect: SqlDialect, { item, eventId }: AssignedItem): Promise<void> {
  if (item.groupChange) await applyGroupSql(trx, dialect, item.groupChange, eventId);
  if (item.callChange) await upsertCall(trx, item.callChange, eventId);
  const read = item.readCursor;
  if (read && dialect.compactInbox) await applyCompactRead(trx, dialect, read, item.event.conversation);
  else if (read) {
    const readUpTo = dialect.greatest(column('conversation_state.read_event_id'), read.upTo);
    // There is no index by event: the scan starts at the reader's first entry after `upTo`, found
    // on the primary key; the count is of entries after readUpTo, which is never below `upTo`.
    const from = (await firstEntryAfter(trx, dialect, read.user, read.upTo))?.seq ?? Number.MAX_SAFE_INTEGER;
    await trx.updateTable('conversation_state')
      .set({
        read_event_id: readUpTo,
        // Read up to the conversation's newest event (the usual case): nothing is unread, and no
        // inbox entry is read. Otherwise count what came after, in the reader's entries by event.
        unread: sql`CASE WHEN ${readUpTo} >= conversation_state.last_event_id THEN 0 ELSE (SELECT count(*) FROM inbox
          WHERE inbox.user_id = conversation_state.user_id AND inbox.seq >= ${from} AND inbox.event_id > ${readUpTo}
          AND inbox.conversation = conversation_state.conversation AND inbox.countable = 1) END`,
      })
      .where('user_id', '=', read.user).where('conversation', '=', item.event.conversation).execute();
  }
}

/**
 * A read cursor on a compact inbox: the unread recount of applySideEffects, in one statement, with
 * the reader's entries counted through their runs (compact-inbox.ts) instead of by a scan of rows.
 */
async function applyCompactRead(trx: Transaction<Database>, dialect: SqlDialect, read: { user: string; upTo: number }, conversation: string): Promise<void> {
  const readUpTo = dialect.greatest(column('conversation_state.read_event_id'), read.upTo);
  await sql`UPDATE conversation_state SET read_event_id = ${readUpTo},
      unread = CASE WHEN ${readUpTo} >= conversation_state.last_event_id THEN 0 ELSE ${unreadAfter(read.user, conversation, readUpTo)} END
    WHERE user_id = ${read.user} AND conversation = ${conversation}`.execute(trx);
}
