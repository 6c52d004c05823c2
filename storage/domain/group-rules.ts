import { ProtocolError, type GroupRole, type JoinPolicy } from '../../protocol/index.ts';
import type { EventDraft } from './model.ts';

/**
 * Groups with an owner, admins and a join policy: who may do what, checked in log order. Pure;
 * the projector calls it for every group event, live and in `rebuild`.
 */
export interface GroupState {
  name: string;
  /** Undefined only for a legacy group whose members all left. */
  owner: string | undefined;
  joinPolicy: JoinPolicy;
  members: Set<string>;
  admins: Set<string>;
  /** Pending join requests (`approval` groups). */
  requests: Set<string>;
  /** Dissolved groups stay known, so their id is never reused; nobody can act on them. */
  dissolved: boolean;
}

export interface GroupChange {
  groupId: string;
  create?: { name: string; createdBy: string; joinPolicy: JoinPolicy };
  add?: string[];
  remove?: string[];
  /** The new owner; the previous one becomes an admin. */
  owner?: string;
  role?: { user: string; role: 'admin' | 'member' };
  update?: { name?: string; joinPolicy?: JoinPolicy };
  request?: { add?: string; remove?: string };
  dissolve?: true;
}

export type GroupDraft = Extract<EventDraft, { groupId: string }>;

export interface GroupProjection {
  body: Record<string, unknown>;
  recipients: string[];
  change: GroupChange;
}

export function roleOf(group: GroupState, user: string): GroupRole | undefined {
  if (!group.members.has(user)) return undefined;
  if (group.owner === user) return 'owner';
  return group.admins.has(user) ? 'admin' : 'member';
}

const isAdmin = (group: GroupState, user: string) => group.owner === user || group.admins.has(user);

/** The owner's and admins' share of a group: who hears of join requests. */
const moderators = (group: GroupState) => [...group.members].filter((u) => isAdmin(group, u));

/**
 * Validate one group event at its place in the log and compute its body (without the envelope),
 * recipients and change. `replay` accepts what history holds (rebuild): limits and rules that
 * did not exist when an event was appended are not applied to it.
 */
export function projectGroupEvent(draft: GroupDraft, groups: ReadonlyMap<string, GroupState>, limits: { maxGroupMembers: number; replay?: boolean }): GroupProjection {
  const { groupId, sender } = draft;
  const replay = limits.replay === true;
  if (draft.kind === 'group_created') {
    if (groups.has(groupId)) throw new ProtocolError('group_exists');
    const members = [...new Set([sender, ...draft.members])];
    if (!replay && members.length > limits.maxGroupMembers) throw new ProtocolError('group_full');
    // Groups created before join policies existed stored none: they were open to anyone, and stay so.
    const joinPolicy = draft.joinPolicy ?? 'open';
    return {
      body: { groupId, name: draft.name, members, owner: sender, joinPolicy },
      recipients: members,
      change: { groupId, create: { name: draft.name, createdBy: sender, joinPolicy }, add: members },
    };
  }
  const group = groups.get(groupId);
  if (!group || group.dissolved) throw new ProtocolError('group_not_found');
  const members = [...group.members];
  const requireAdmin = () => {
    if (!replay && !isAdmin(group, sender)) throw new ProtocolError(group.members.has(sender) ? 'not_group_admin' : 'not_group_member');
  };
  const requireOwner = () => {
    if (!replay && group.owner !== sender) throw new ProtocolError(group.members.has(sender) ? 'not_group_owner' : 'not_group_member');
  };
  switch (draft.kind) {
    case 'member_joined': {
      const { user } = draft;
      if (group.members.has(user)) throw new ProtocolError('already_member');
      if (!replay && group.members.size + 1 > limits.maxGroupMembers) throw new ProtocolError('group_full');
      if (sender === user) {
        // Joining on one's own: only an open group (an approval group takes a request instead).
        if (!replay && group.joinPolicy !== 'open') throw new ProtocolError('group_invite_only');
      } else {
        requireAdmin();
        if (draft.via === 'approve' && !group.requests.has(user)) throw new ProtocolError('no_join_request');
      }
      // A joiner sees their own join.
      return { body: { groupId, user }, recipients: [...members, user], change: { groupId, add: [user] } };
    }
    case 'member_left': {
      const { user } = draft;
      if (!group.members.has(user)) throw new ProtocolError('not_group_member');
      const removed = sender !== user;
      if (removed) {
        requireAdmin();
        // Admins remove members; only the owner removes an admin; nobody removes the owner.
        if (!replay && (user === group.owner || (group.admins.has(user) && group.owner !== sender))) throw new ProtocolError('not_group_admin');
      } else if (user === group.owner && !replay) {
        throw new ProtocolError('group_owner_must_transfer');
      }
      const change: GroupChange = { groupId, remove: [user] };
      // History from before owners (rebuild only): an owner who left passes the group on.
      if (user === group.owner) change.owner = members.filter((m) => m !== user).sort()[0] ?? '';
      // A leaver (or the removed) sees it.
      return { body: { groupId, user, reason: removed ? 'removed' : 'left' }, recipients: members, change };
    }
    case 'member_role': {
      const { user, role } = draft;
      requireOwner();
      if (!group.members.has(user)) throw new ProtocolError('not_group_member');
      if (role === 'owner') {
        if (user === group.owner) throw new ProtocolError('bad_recipient', 'That user already owns the group.');
        return { body: { groupId, user, role }, recipients: members, change: { groupId, owner: user } };
      }
      if (user === group.owner) throw new ProtocolError('not_group_owner', 'Transfer ownership to change the owner\'s role.');
      return { body: { groupId, user, role }, recipients: members, change: { groupId, role: { user, role } } };
    }
    case 'group_updated': {
      requireAdmin();
      const update = { ...(draft.name !== undefined ? { name: draft.name } : {}), ...(draft.joinPolicy !== undefined ? { joinPolicy: draft.joinPolicy } : {}) };
      return { body: { groupId, ...update }, recipients: members, change: { groupId, update } };
    }
    case 'group_dissolved': {
      requireOwner();
      return { body: { groupId }, recipients: members, change: { groupId, dissolve: true } };
    }
    case 'join_requested': {
      if (group.members.has(sender)) throw new ProtocolError('already_member');
      if (!replay && group.joinPolicy !== 'approval') throw new ProtocolError('group_invite_only');
      // A repeated request is told to the moderators again; it stays one request.
      return { body: { groupId, user: sender }, recipients: [...new Set([...moderators(group), sender])], change: { groupId, request: { add: sender } } };
    }
    case 'join_rejected': {
      const { user } = draft;
      requireAdmin();
      if (!group.requests.has(user)) throw new ProtocolError('no_join_request');
      return { body: { groupId, user }, recipients: [...new Set([...moderators(group), user])], change: { groupId, request: { remove: user } } };
    }
  }
}

/** Apply a group change to the in-memory state. */
export function applyGroupChange(groups: Map<string, GroupState>, change: GroupChange): void {
  let group = groups.get(change.groupId);
  if (change.create) {
    group = {
      name: change.create.name, owner: change.create.createdBy, joinPolicy: change.create.joinPolicy,
      members: new Set(), admins: new Set(), requests: new Set(), dissolved: false,
    };
    groups.set(change.groupId, group);
  }
  if (!group) return;
  for (const user of change.add ?? []) {
    group.members.add(user);
    group.requests.delete(user);
  }
  for (const user of change.remove ?? []) {
    group.members.delete(user);
    group.admins.delete(user);
  }
  if (change.owner !== undefined) {
    if (group.owner !== undefined && group.members.has(group.owner)) group.admins.add(group.owner);
    group.owner = change.owner === '' ? undefined : change.owner;
    if (group.owner !== undefined) group.admins.delete(group.owner);
  }
  if (change.role) {
    if (change.role.role === 'admin') group.admins.add(change.role.user);
    else group.admins.delete(change.role.user);
  }
  if (change.update?.name !== undefined) group.name = change.update.name;
  if (change.update?.joinPolicy !== undefined) group.joinPolicy = change.update.joinPolicy;
  if (change.request?.add !== undefined) group.requests.add(change.request.add);
  if (change.request?.remove !== undefined) group.requests.delete(change.request.remove);
  if (change.dissolve) {
    group.dissolved = true;
    group.members.clear();
    group.admins.clear();
    group.requests.clear();
  }
}
