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
      // This node's membership cache may be behind another node's commit; the append decides
      // (the projector, under the group's lock where the database is shared), so a "no" here only
      // skips the shortcut below.
      const member = parsed.kind !== 'group' || store.readModels.isMember(parsed.groupId, user);
      // Calls carry no unread state; their conversations are not read-receipt targets.
      if (parsed.kind === 'call') throw new ProtocolError('bad_conversation', 'Call conversations have no read receipts.');
      // Another node may have committed the event this one has not observed yet: ask the database.
      if (frame.upTo > store.log.lastEventId() && frame.upTo > await store.log.freshLastEventId()) throw new ProtocolError('bad_cursor', 'upTo is beyond the newest event.');
      const current = await store.readModels.readCursor(user, frame.conversation);
      if (member && frame.upTo <= current) {
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
