import { Type, type Static } from '@sinclair/typebox';
import { Content, ConversationId, Id, PushOptions, Recipient, Seq } from './common.ts';

/** Fields every delivered event carries: its place in the reader's inbox and in the global log. */
const Envelope = {
  seq: Seq,
  eventId: Seq,
  conversation: ConversationId,
  from: Id,
  at: Type.Integer({ description: 'server time, ms since epoch' }),
};

export const MessageEvent = Type.Object({
  kind: Type.Literal('message'), ...Envelope,
  messageId: Type.String(), clientMsgId: Type.String(), to: Recipient, content: Content,
  push: Type.Optional(PushOptions),
});
export const ReadEvent = Type.Object({
  kind: Type.Literal('read'), ...Envelope, upTo: Seq,
});
export const GroupCreatedEvent = Type.Object({
  kind: Type.Literal('group_created'), ...Envelope, groupId: Id, name: Type.String(), members: Type.Array(Id),
});
export const MemberJoinedEvent = Type.Object({
  kind: Type.Literal('member_joined'), ...Envelope, groupId: Id, user: Id,
});
export const MemberLeftEvent = Type.Object({
  kind: Type.Literal('member_left'), ...Envelope, groupId: Id, user: Id,
});

export const DeliveredEvent = Type.Union([
  MessageEvent, ReadEvent, GroupCreatedEvent, MemberJoinedEvent, MemberLeftEvent,
]);
export type DeliveredEvent = Static<typeof DeliveredEvent>;
export type MessageEvent = Static<typeof MessageEvent>;
export type EventKind = DeliveredEvent['kind'];
