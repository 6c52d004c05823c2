import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { EventDraft } from '../types.ts';
import { applyCallChange, applyGroupChange, project, type ProjectionState } from '../projector.ts';
import { upsertCall } from './append-writer.ts';
import type { CallAction } from '../../protocol/index.ts';
import { peerOf } from '../../protocol/index.ts';

/** The read models that rebuild recomputes from the log; the live writer maintains the same tables. */
export const REBUILT_TABLES = ['inbox', 'groups', 'group_members', 'conversation_state', 'calls'] as const;

/** Recover the draft an event was appended from, so replay runs the very same projection. */
export function draftFromStored(kind: string, sender: string, conversation: string, clientMsgId: string | null, json: string): EventDraft {
  const body = JSON.parse(json) as Record<string, unknown>;
  switch (kind) {
    case 'message': {
      const to = body.to as { user?: string; group?: string };
      const data: Record<string, unknown> = { to: body.to, content: body.content };
      if (body.push !== undefined) data.push = body.push;
      return { kind, sender, conversation, clientMsgId: clientMsgId ?? '', data, ...(to.group !== undefined ? { group: to.group } : { peer: to.user }) };
    }
    case 'read': {
      const peer = peerOf(conversation, sender);
      return { kind, sender, conversation, upTo: body.upTo as number, ...(peer !== undefined ? { peer } : {}) };
    }
    case 'group_created':
      return { kind, sender, groupId: body.groupId as string, name: body.name as string, members: body.members as string[] };
    case 'member_joined':
    case 'member_left':
      return { kind, sender, groupId: body.groupId as string, user: body.user as string };
    case 'call_invited':
      return {
        kind, sender, callId: body.callId as string, invitees: body.invitees as string[], deadline: body.deadline as number,
        ...(body.data !== undefined ? { data: body.data as string } : {}), ...(body.push !== undefined ? { push: body.push as Record<string, unknown> } : {}),
      };
    case 'call_state':
      return { kind, sender, callId: body.callId as string, action: body.action as CallAction, ...(body.byDevice !== undefined ? { byDevice: body.byDevice as string } : {}) };
    default:
      throw new Error(`Cannot replay event kind ${kind}`);
  }
}

/**
 * Recompute every read model from the events table alone (LOG-4), inside one transaction.
 * Events are replayed in log order with the live projector, so seqs and memberships come out
 * identical to what the live writer produced.
 */
export async function rebuildReadModels(db: Kysely<Database>, pageSize = 5000): Promise<{ events: number }> {
  let count = 0;
  await db.transaction().execute(async (trx) => {
    for (const table of REBUILT_TABLES) await trx.deleteFrom(table).execute();
    const state: ProjectionState = { groups: new Map(), calls: new Map() };
    const heads = new Map<string, number>();
    const reads: Array<{ user: string; conversation: string; upTo: number }> = [];
    let after = 0;
    for (;;) {
      const page = await trx.selectFrom('events').selectAll().where('id', '>', after).orderBy('id').limit(pageSize).execute();
      if (page.length === 0) break;
      const inboxRows: Database['inbox'][] = [];
      for (const row of page) {
        const draft = draftFromStored(row.kind, row.sender, row.conversation, row.client_msg_id, row.json);
        // Limits applied when the event was appended; replay must accept what the log holds.
        const projected = project(draft, row.id, row.at, state, { maxGroupMembers: Number.POSITIVE_INFINITY }, row.message_id ?? undefined);
        if (projected.groupChange) {
          applyGroupChange(state, projected.groupChange);
          if (projected.groupChange.create) {
            await trx.insertInto('groups').values({ group_id: projected.groupChange.groupId, name: projected.groupChange.create.name, created_by: row.sender, created_event_id: row.id }).execute();
          }
          for (const user of projected.groupChange.add ?? []) {
            await trx.insertInto('group_members').values({ group_id: projected.groupChange.groupId, user_id: user, joined_event_id: row.id }).execute();
          }
          if (projected.groupChange.remove?.length) {
            await trx.deleteFrom('group_members').where('group_id', '=', projected.groupChange.groupId).where('user_id', 'in', projected.groupChange.remove).execute();
          }
        }
        if (projected.callChange) {
          applyCallChange(state, projected.callChange);
          await upsertCall(trx, projected.callChange, row.id);
        }
        if (projected.readCursor) reads.push({ ...projected.readCursor, conversation: row.conversation });
        for (const { user, countable } of projected.recipients) {
          const seq = (heads.get(user) ?? 0) + 1;
          heads.set(user, seq);
          inboxRows.push({ user_id: user, seq, event_id: row.id, conversation: row.conversation, countable: countable ? 1 : 0 });
        }
        after = row.id;
        count += 1;
      }
      for (let i = 0; i < inboxRows.length; i += 5000) await trx.insertInto('inbox').values(inboxRows.slice(i, i + 5000)).execute();
    }
    await sql`INSERT INTO conversation_state (user_id, conversation, read_event_id, unread, last_event_id)
      SELECT user_id, conversation, 0, 0, max(event_id) FROM inbox GROUP BY user_id, conversation`.execute(trx);
    for (const read of reads) {
      await trx.updateTable('conversation_state').set({ read_event_id: sql`max(read_event_id, ${read.upTo})` })
        .where('user_id', '=', read.user).where('conversation', '=', read.conversation).execute();
    }
    await sql`UPDATE conversation_state SET unread = (SELECT count(*) FROM inbox WHERE inbox.user_id = conversation_state.user_id
      AND inbox.conversation = conversation_state.conversation AND inbox.countable = 1 AND inbox.event_id > conversation_state.read_event_id)`.execute(trx);
  });
  return { events: count };
}
