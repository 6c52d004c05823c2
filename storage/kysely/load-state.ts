import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { ProjectionState } from '../projector.ts';
import type { CallRecord } from '../types.ts';

/** Group membership is held in memory by the single writer; this loads it from the read model. */
export async function loadProjectionState(db: Kysely<Database>): Promise<ProjectionState> {
  const state: ProjectionState = { groups: new Map(), calls: new Map() };
  for (const row of await db.selectFrom('groups').select(['group_id', 'name']).execute()) {
    state.groups.set(row.group_id, { name: row.name, members: new Set() });
  }
  for (const row of await db.selectFrom('group_members').select(['group_id', 'user_id']).execute()) {
    state.groups.get(row.group_id)?.members.add(row.user_id);
  }
  for (const row of await db.selectFrom('calls').selectAll().where('state', 'in', ['ringing', 'accepted']).execute()) {
    state.calls.set(row.call_id, callFromRow(row));
  }
  return state;
}

/** The newest committed event id (0 for an empty log). */
export async function lastEventIdIn(db: Kysely<Database>): Promise<number> {
  const last = await db.selectFrom('events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
  return Number(last?.id ?? 0);
}

export function callFromRow(row: Database['calls']): CallRecord {
  return {
    callId: row.call_id, inviter: row.inviter, state: row.state as CallRecord['state'],
    invitees: JSON.parse(row.invitees) as CallRecord['invitees'], deadline: row.deadline,
  };
}
