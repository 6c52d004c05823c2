import { ProtocolError, parseConversation, peerOf } from '../../protocol/index.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';

/** Read receipts move a per-conversation read cursor (SYNC-4); unread counts follow from it. */
export function readsFeature(ctx: Pick<ServerContext, 'store'>): FrameHandlers {
  const { store } = ctx;
  return {
    async read(session, frame) {
      const user = session.userId;
      const parsed = parseConversation(frame.conversation);
      if (!parsed) throw new ProtocolError('bad_conversation');
      if (parsed.kind === 'peer' && !parsed.users.includes(user)) throw new ProtocolError('bad_conversation');
      if (parsed.kind === 'group' && !store.readModels.isMember(parsed.groupId, user)) throw new ProtocolError('not_group_member');
      // Calls carry no unread state; their conversations are not read-receipt targets.
      if (parsed.kind === 'call') throw new ProtocolError('bad_conversation', 'Call conversations have no read receipts.');
      if (frame.upTo > store.log.lastEventId()) throw new ProtocolError('bad_cursor', 'upTo is beyond the newest event.');
      const current = await store.readModels.readCursor(user, frame.conversation);
      if (frame.upTo <= current) {
        session.send({ type: 'ok', ref: frame.ref, for: 'read' });
        return;
      }
      const peer = peerOf(frame.conversation, user);
      const result = await store.log.append({
        kind: 'read', sender: user, conversation: frame.conversation, upTo: frame.upTo, byDevice: session.identity!.deviceId, ...(peer ? { peer } : {}),
      });
      session.send({ type: 'ok', ref: frame.ref, for: 'read', eventId: result.event.eventId });
    },
    async unread(session, frame) {
      const rows = await store.readModels.unread(session.userId);
      session.send({
        type: 'unread_counts', ref: frame.ref, total: rows.reduce((sum, r) => sum + r.unread, 0),
        conversations: Object.fromEntries(rows.map((r) => [r.conversation, r.unread])),
      });
    },
  };
}
