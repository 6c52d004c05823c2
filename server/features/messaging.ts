import { ProtocolError, groupConversation, peerConversation } from '../../protocol/index.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';

/** A resend must be the same message: same conversation, same content (LOG-2). */
function sameMessage(storedJson: string, storedConversation: string, conversation: string, content: unknown): boolean {
  if (storedConversation !== conversation) return false;
  return JSON.stringify((JSON.parse(storedJson) as { content: unknown }).content) === JSON.stringify(content);
}

/** Peer and group sends (LOG-1..3): appended, committed, then acked; delivery follows the commit. */
export function messagingFeature(ctx: Pick<ServerContext, 'store' | 'config' | 'metrics'>): FrameHandlers {
  const { store, config, metrics } = ctx;
  return {
    async send(session, frame) {
      const startedAt = performance.now();
      const sender = session.userId;
      const contentBytes = Buffer.byteLength(JSON.stringify(frame.content));
      if (contentBytes > config.limits.maxMessageBytes) {
        throw new ProtocolError('message_too_large', `Message content is ${contentBytes} bytes; the limit is ${config.limits.maxMessageBytes}.`);
      }
      const data: Record<string, unknown> = { to: frame.to, content: frame.content };
      if (frame.push) data.push = frame.push;
      // No await before append: frames of one connection reach the log in the order they arrived (LOG-3).
      let pending;
      let pendingConversation: string;
      if ('group' in frame.to) {
        const groupId = frame.to.group;
        // Membership is checked where the message takes its place in the log (so a resend of a
        // message committed before the sender left is still its duplicate ack, LOG-2).
        pendingConversation = groupConversation(groupId);
        pending = store.log.append({ kind: 'message', sender, conversation: pendingConversation, clientMsgId: frame.clientMsgId, data, group: groupId });
      } else {
        const peer = frame.to.user;
        // SET-6: a message the receiver would reject is refused and never stored, so never pushed.
        if (store.settings.hasBlocked(peer, sender)) throw new ProtocolError('blocked');
        pendingConversation = peerConversation(sender, peer);
        pending = store.log.append({ kind: 'message', sender, conversation: pendingConversation, clientMsgId: frame.clientMsgId, data, peer });
      }
      const result = await pending;
      if (result.duplicate && !sameMessage(result.event.json, result.event.conversation, pendingConversation, frame.content)) {
        throw new ProtocolError('idempotency_conflict');
      }
      session.send({
        type: 'send_ack', ref: frame.ref, clientMsgId: frame.clientMsgId, messageId: result.event.messageId ?? '',
        eventId: result.event.eventId, seq: result.seqs.get(sender) ?? 0, conversation: result.event.conversation,
        at: result.event.at, duplicate: result.duplicate,
      });
      metrics.sendAck.observe((performance.now() - startedAt) / 1000);
    },
  };
}
