import { sql, type Transaction } from 'kysely';
import type { CallRecord } from '../contract.ts';
import { unreadAfter } from '../sql/compact-inbox.ts';
import { applyGroupSql, type AssignedItem } from '../sql/projection-sql.ts';
import type { Database } from '../sql/schema.ts';
import { POSTGRES } from './postgres-database.ts';

/**
 * projection-sql's applySideEffects for a whole batch, in as few statements as PostgreSQL needs:
 * each statement is a round trip while the batch holds its locks (other nodes wait on them).
 * Group changes one by one, in order (rare, and each reads what the previous wrote), then every
 * call change in one upsert and every read cursor in one update. Same rows as the per-item loop (the
 * rebuild runs that one, and LOG-4 compares the two): a call changed twice keeps its first
 * insert's deadline and creating event and its last state; a conversation read twice ends at the
 * larger cursor, and its unread count depends only on that cursor.
 */
export async function applySideEffectsBatched(trx: Transaction<Database>, assigned: readonly AssignedItem[]): Promise<void> {
  const calls = new Map<string, { first: CallRecord; firstEventId: number; last: CallRecord; lastEventId: number }>();
  const reads = new Map<string, { user: string; conversation: string; upTo: number }>();
  for (const { item, eventId } of assigned) {
    if (item.groupChange) await applyGroupSql(trx, POSTGRES, item.groupChange, eventId);
    const call = item.callChange;
    if (call) {
      const seen = calls.get(call.callId);
      if (seen) Object.assign(seen, { last: call, lastEventId: eventId });
      else calls.set(call.callId, { first: call, firstEventId: eventId, last: call, lastEventId: eventId });
    }
    const read = item.readCursor;
    if (read) {
      const key = `${read.user}\u0000${item.event.conversation}`;
      const seen = reads.get(key);
      if (!seen || read.upTo > seen.upTo) reads.set(key, { user: read.user, conversation: item.event.conversation, upTo: read.upTo });
    }
  }
  if (calls.size > 0) {
    const c = [...calls.values()];
    await sql`INSERT INTO calls (call_id, inviter, state, invitees, deadline, created_event_id, updated_event_id)
      SELECT * FROM unnest(${c.map((x) => x.first.callId)}::text[], ${c.map((x) => x.first.inviter)}::text[], ${c.map((x) => x.last.state)}::text[],
        ${c.map((x) => JSON.stringify(x.last.invitees))}::text[], ${c.map((x) => x.first.deadline)}::bigint[], ${c.map((x) => x.firstEventId)}::bigint[],
        ${c.map((x) => x.lastEventId)}::bigint[])
      ON CONFLICT (call_id) DO UPDATE SET state = excluded.state, invitees = excluded.invitees, updated_event_id = excluded.updated_event_id`.execute(trx);
  }
  if (reads.size > 0) {
    const r = [...reads.values()];
    const readUpTo = sql<number>`greatest(conversation_state.read_event_id, t.up)`;
    await sql`UPDATE conversation_state SET read_event_id = ${readUpTo},
        unread = CASE WHEN ${readUpTo} >= conversation_state.last_event_id THEN 0 ELSE ${unreadAfter(sql.ref('t.u'), sql.ref('t.c'), readUpTo)} END
      FROM unnest(${r.map((x) => x.user)}::text[], ${r.map((x) => x.conversation)}::text[], ${r.map((x) => x.upTo)}::bigint[]) AS t(u, c, up)
      WHERE conversation_state.user_id = t.u AND conversation_state.conversation = t.c`.execute(trx);
  }
}
