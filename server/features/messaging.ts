import { ProtocolError, groupConversation, peerConversation } from '../../protocol/index.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';

/** Peer and group sends (LOG-1..3): appended, committed, then acked; delivery follows the commit. */
export function messagingFeature(ctx: ServerContext): FrameHandlers {
  const { store, config } = ctx;
  return {
    async send(session, frame) {
      if (ctx.state.draining) throw new ProtocolError('server_shutting_down');
      const sender = session.userId;
      const contentBytes = Buffer.byteLength(JSON.stringify(frame.content));
      if (contentBytes > config.limits.maxMessageBytes) {
        throw new ProtocolError('message_too_large', `Message content is ${contentBytes} bytes; the limit is ${config.limits.maxMessageBytes}.`);
      }
      const data: Record<string, unknown> = { to: frame.to, content: frame.content };
      if (frame.push) data.push = frame.push;
      // No await before append: frames of one connection reach the log in the order they arrived (LOG-3).
      let pending;
      if ('group' in frame.to) {
        const groupId = frame.to.group;
        if (!store.readModels.isGroup(groupId)) throw new ProtocolError('group_not_found');
        if (!store.readModels.isMember(groupId, sender)) throw new ProtocolError('not_group_member');
        pending = store.log.append({ kind: 'message', sender, conversation: groupConversation(groupId), clientMsgId: frame.clientMsgId, data, group: groupId });
      } else {
        const peer = frame.to.user;
        pending = store.log.append({ kind: 'message', sender, conversation: peerConversation(sender, peer), clientMsgId: frame.clientMsgId, data, peer });
      }
      const result = await pending;
      session.send({
        type: 'send_ack', ref: frame.ref, clientMsgId: frame.clientMsgId, messageId: result.event.messageId ?? '',
        eventId: result.event.eventId, seq: result.seqs.get(sender) ?? 0, conversation: result.event.conversation,
        at: result.event.at, duplicate: result.duplicate,
      });
    },
  };
}
