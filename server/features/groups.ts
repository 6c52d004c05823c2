import { nanoid } from 'nanoid';
import { ProtocolError, type OK_FOR } from '../../protocol/index.ts';

type OkFor = (typeof OK_FOR)[number];
import type { EventDraft } from '../../storage/index.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';
import type { Session } from '../sessions/session.ts';

/**
 * Groups (MSG-2, AUTH-3): membership, roles and join policies change through events in the log
 * like messages (LOG-1), so they order with them and are delivered and resynced the same way. Who
 * may do what is decided where the event is projected (storage/domain/group-rules.ts), in log order;
 * this module turns frames into drafts and answers.
 */
export function groupsFeature(ctx: Pick<ServerContext, 'store' | 'config'>): FrameHandlers {
  const { store, config } = ctx;

  async function append(session: Session, ref: string | undefined, type: OkFor, draft: EventDraft): Promise<void> {
    const result = await store.log.append(draft);
    session.send({ type: 'ok', ref, for: type, eventId: result.event.eventId });
  }

  return {
    async group_create(session, frame) {
      const members = [...new Set([session.userId, ...frame.members])];
      if (members.length > config.limits.maxGroupMembers) throw new ProtocolError('group_full');
      const groupId = frame.groupId ?? nanoid(12);
      const result = await store.log.append({
        kind: 'group_created', sender: session.userId, groupId, name: frame.name, members, joinPolicy: frame.joinPolicy ?? 'invite',
      });
      session.send({ type: 'group_created', ref: frame.ref, groupId, eventId: result.event.eventId });
    },
    async group_join(session, frame) {
      const user = session.userId;
      // An approval group takes a request, which its owner and admins see; open ones let anyone in.
      const policy = store.readModels.group(frame.groupId)?.joinPolicy;
      const draft: EventDraft = policy === 'approval'
        ? { kind: 'join_requested', sender: user, groupId: frame.groupId }
        : { kind: 'member_joined', sender: user, groupId: frame.groupId, user, via: 'join' };
      await append(session, frame.ref, 'group_join', draft);
    },
    async group_leave(session, frame) {
      await append(session, frame.ref, 'group_leave', { kind: 'member_left', sender: session.userId, groupId: frame.groupId, user: session.userId });
    },
    async group_invite(session, frame) {
      const users = [...new Set(frame.users)];
      // One event per invitee, appended together: each is checked on its own, in order.
      const results = await Promise.allSettled(users.map((user) => store.log.append({ kind: 'member_joined', sender: session.userId, groupId: frame.groupId, user, via: 'invite' })));
      const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ user: users[i]!, error: r.reason as unknown }] : []));
      // Nobody added: the first refusal is the answer (not a member, not an admin, …).
      if (failures.length === users.length) throw failures[0]!.error;
      const eventIds = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.event.eventId] : []));
      const failed = failures.map(({ user, error }) => ({ user, code: error instanceof ProtocolError ? error.code : 'internal' as const }));
      session.send({ type: 'ok', ref: frame.ref, for: 'group_invite', eventId: Math.max(...eventIds), ...(failed.length > 0 ? { failed } : {}) });
    },
    async group_remove(session, frame) {
      await append(session, frame.ref, 'group_remove', { kind: 'member_left', sender: session.userId, groupId: frame.groupId, user: frame.user });
    },
    async group_approve(session, frame) {
      await append(session, frame.ref, 'group_approve', { kind: 'member_joined', sender: session.userId, groupId: frame.groupId, user: frame.user, via: 'approve' });
    },
    async group_reject(session, frame) {
      await append(session, frame.ref, 'group_reject', { kind: 'join_rejected', sender: session.userId, groupId: frame.groupId, user: frame.user });
    },
    async group_transfer(session, frame) {
      await append(session, frame.ref, 'group_transfer', { kind: 'member_role', sender: session.userId, groupId: frame.groupId, user: frame.user, role: 'owner' });
    },
    async group_set_role(session, frame) {
      await append(session, frame.ref, 'group_set_role', { kind: 'member_role', sender: session.userId, groupId: frame.groupId, user: frame.user, role: frame.role });
    },
    async group_update(session, frame) {
      if (frame.name === undefined && frame.joinPolicy === undefined) throw new ProtocolError('bad_frame', 'Give a name or a joinPolicy to change.');
      await append(session, frame.ref, 'group_update', {
        kind: 'group_updated', sender: session.userId, groupId: frame.groupId,
        ...(frame.name !== undefined ? { name: frame.name } : {}), ...(frame.joinPolicy !== undefined ? { joinPolicy: frame.joinPolicy } : {}),
      });
    },
    async group_dissolve(session, frame) {
      await append(session, frame.ref, 'group_dissolve', { kind: 'group_dissolved', sender: session.userId, groupId: frame.groupId });
    },
    group_members(session, frame) {
      const group = store.readModels.group(frame.groupId);
      if (!group) throw new ProtocolError('group_not_found');
      const role = group.roles[session.userId];
      if (!role) throw new ProtocolError('not_group_member');
      session.send({
        type: 'group_members_list', ref: frame.ref, groupId: frame.groupId, name: group.name, members: group.members, roles: group.roles,
        joinPolicy: group.joinPolicy, ...(role !== 'member' ? { requests: group.requests } : {}),
      });
    },
  };
}
