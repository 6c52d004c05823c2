import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { ProjectionState } from '../projector.ts';

/** Group membership is held in memory by the single writer; this loads it from the read model. */
export async function loadProjectionState(db: Kysely<Database>): Promise<ProjectionState> {
  const state: ProjectionState = { groups: new Map() };
  for (const row of await db.selectFrom('groups').select(['group_id', 'name']).execute()) {
    state.groups.set(row.group_id, { name: row.name, members: new Set() });
  }
  for (const row of await db.selectFrom('group_members').select(['group_id', 'user_id']).execute()) {
    state.groups.get(row.group_id)?.members.add(row.user_id);
  }
  return state;
}
