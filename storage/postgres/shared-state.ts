import { sql, type Transaction } from 'kysely';
import { ProtocolError, parseConversation, type ErrorCode, type JoinPolicy } from '../../protocol/index.ts';
import type { EventDraft, WriteItem } from '../contract.ts';
import { isCallOver } from '../domain/call-state.ts';
import {
  applyCallChange, applyGroupChange, project, type ProjectedEvent, type ProjectionLimits, type ProjectionState,
} from '../domain/projector.ts';
import { callFromRow } from '../sql/log-reads.ts';
import type { Database } from '../sql/schema.ts';
import { toWriteItem } from '../write-item.ts';

/*
 * The shared state a draft's validity depends on (group membership, a call's state), read under
 * locks in the append transaction, and the drafts re-projected on it. Locks are taken in one fixed
 * order by every process: group creations (advisory), groups rows, call creations (advisory),
 * calls rows, each class sorted by id; the writer then locks user_heads (sorted) and last the
 * device cursors (sorted). A transaction never waits for a lock of an earlier class while holding
 * one of a later class, so appends from several processes cannot deadlock.
 */

/**
 * What a draft needs locked: a group (FOR SHARE to read, FOR UPDATE to send or to change members:
 * an event that every member receives draws the group's next conv_ord, compact-inbox.ts) or a call
 * (FOR UPDATE).
 */
type Need =
  | { on: 'group'; id: string; update: boolean; create: boolean }
  | { on: 'call'; id: string; create: boolean };

/** Advisory-lock namespaces (the first key) for rows that do not exist yet. */
const GROUP_CREATION = 0x7467; // 'tg'
const CALL_CREATION = 0x7463; // 'tc'

export function needOf(draft: EventDraft | undefined): Need | undefined {
  if (!draft) return undefined;
  switch (draft.kind) {
    case 'message':
      return draft.group !== undefined ? { on: 'group', id: draft.group, update: true, create: false } : undefined;
    case 'read': {
      // Peer reads need nothing: only membership decides a group read.
      const parsed = parseConversation(draft.conversation);
      return parsed?.kind === 'group' ? { on: 'group', id: parsed.groupId, update: false, create: false } : undefined;
    }
    case 'group_created':
      return { on: 'group', id: draft.groupId, update: true, create: true };
    case 'member_joined':
    case 'member_left':
    case 'member_role':
    case 'group_updated':
    case 'group_dissolved':
    case 'join_requested':
    case 'join_rejected':
      return { on: 'group', id: draft.groupId, update: true, create: false };
    case 'call_invited':
      return { on: 'call', id: draft.callId, create: true };
    case 'call_state':
      return { on: 'call', id: draft.callId, create: false };
  }
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Lock what the drafts need, in the fixed order, and read it back as a ProjectionState holding
 * just those groups (with their members) and those calls that are not over.
 */
export async function lockSharedState(trx: Transaction<Database>, needs: readonly Need[]): Promise<ProjectionState> {
  const groups = new Map<string, { update: boolean; create: boolean }>();
  const calls = new Map<string, { create: boolean }>();
  for (const need of needs) {
    if (need.on === 'group') {
      const seen = groups.get(need.id);
      groups.set(need.id, { update: need.update || (seen?.update ?? false), create: need.create || (seen?.create ?? false) });
    } else {
      calls.set(need.id, { create: need.create || (calls.get(need.id)?.create ?? false) });
    }
  }
  const state: ProjectionState = { groups: new Map(), calls: new Map() };
  const groupIds = [...groups.keys()].sort(byId);
  const callIds = [...calls.keys()].sort(byId);

  // A group being created has no row to lock yet: two creators of one id take turns on an advisory
  // lock instead, and the second then sees the first's row (READ COMMITTED reads per statement).
  for (const id of groupIds.filter((g) => groups.get(g)!.create)) {
    await sql`SELECT pg_advisory_xact_lock(${GROUP_CREATION}, hashtext(${id}))`.execute(trx);
  }
  if (groupIds.length > 0) {
    const columns = ['group_id', 'name', 'owner', 'join_policy', 'dissolved_event_id'] as const;
    const rows: Array<Pick<Database['groups'], (typeof columns)[number]>> = [];
    // One statement, rows locked in its sorted order: a batch that changes any group locks all of
    // its groups FOR UPDATE rather than paying a round trip per group (each one waits for this
    // node's event loop while the batch's other locks are held, which other nodes then wait for).
    const query = trx.selectFrom('groups').select(columns).where('group_id', 'in', groupIds).orderBy(sql`group_id COLLATE "C"`);
    rows.push(...await (groupIds.some((g) => groups.get(g)!.update) ? query.forUpdate() : query.forShare()).execute());
    for (const row of rows) {
      state.groups.set(row.group_id, {
        name: row.name, owner: row.owner ?? undefined, joinPolicy: row.join_policy as JoinPolicy,
        members: new Set(), admins: new Set(), requests: new Set(), dissolved: row.dissolved_event_id !== null,
      });
    }
    const present = [...state.groups.keys()];
    if (present.length > 0) {
      for (const row of await trx.selectFrom('group_members').select(['group_id', 'user_id', 'role']).where('group_id', 'in', present).execute()) {
        const group = state.groups.get(row.group_id)!;
        group.members.add(row.user_id);
        if (row.role === 'admin') group.admins.add(row.user_id);
      }
      for (const row of await trx.selectFrom('group_join_requests').select(['group_id', 'user_id']).where('group_id', 'in', present).execute()) {
        state.groups.get(row.group_id)!.requests.add(row.user_id);
      }
    }
  }
  for (const id of callIds.filter((c) => calls.get(c)!.create)) {
    await sql`SELECT pg_advisory_xact_lock(${CALL_CREATION}, hashtext(${id}))`.execute(trx);
  }
  if (callIds.length > 0) {
    const rows = await trx.selectFrom('calls').selectAll().where('call_id', 'in', callIds)
      .orderBy(sql`call_id COLLATE "C"`).forUpdate().execute();
    for (const row of rows) {
      const call = callFromRow(row);
      if (!isCallOver(call)) state.calls.set(call.callId, call);
    }
  }
  return state;
}

export type Reprojected =
  | { item: WriteItem; projected?: ProjectedEvent }
  | { rejected: { code: ErrorCode; message: string } };

/**
 * Re-run the projector, in batch order, for every draft that depends on shared state, on the state
 * read under lock (each draft's effects applied for the next). The planned time and message id are
 * kept, so an unchanged outcome is the planned event exactly. Other items are written as planned.
 */
export function reproject(items: readonly WriteItem[], state: ProjectionState, limits: ProjectionLimits): Reprojected[] {
  return items.map((item) => {
    if (!needOf(item.draft)) return { item };
    try {
      const projected = project(item.draft!, item.event.at, state, limits, item.event.messageId ?? undefined);
      if (projected.groupChange) applyGroupChange(state, projected.groupChange);
      if (projected.callChange) applyCallChange(state, projected.callChange);
      return { item: toWriteItem(projected), projected };
    } catch (error) {
      if (error instanceof ProtocolError) return { rejected: { code: error.code, message: error.message } };
      throw error;
    }
  });
}
