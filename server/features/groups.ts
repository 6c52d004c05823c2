import { nanoid } from 'nanoid';
import { ProtocolError } from '../../protocol/index.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';

/** Group membership changes are events in the log like messages (LOG-1), so they order with them. */
export function groupsFeature(ctx: Pick<ServerContext, 'store' | 'config'>): FrameHandlers {
  const { store, config } = ctx;
  return {
    async group_create(session, frame) {
      const members = [...new Set([session.userId, ...frame.members])];
      if (members.length > config.limits.maxGroupMembers) throw new ProtocolError('group_full');
      const groupId = frame.groupId ?? nanoid(12);
      const result = await store.log.append({ kind: 'group_created', sender: session.userId, groupId, name: frame.name, members });
      session.send({ type: 'group_created', ref: frame.ref, groupId, eventId: result.event.eventId });
    },
    async group_join(session, frame) {
      const result = await store.log.append({ kind: 'member_joined', sender: session.userId, groupId: frame.groupId, user: session.userId });
      session.send({ type: 'ok', ref: frame.ref, for: 'group_join', eventId: result.event.eventId });
    },
    async group_leave(session, frame) {
      const result = await store.log.append({ kind: 'member_left', sender: session.userId, groupId: frame.groupId, user: session.userId });
      session.send({ type: 'ok', ref: frame.ref, for: 'group_leave', eventId: result.event.eventId });
    },
    group_members(session, frame) {
      const members = store.readModels.groupMembers(frame.groupId);
      if (!members) throw new ProtocolError('group_not_found');
      if (!members.includes(session.userId)) throw new ProtocolError('not_group_member');
      session.send({ type: 'group_members_list', ref: frame.ref, groupId: frame.groupId, members: [...members] });
    },
  };
}
