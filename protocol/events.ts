import { Type, type Static } from '@sinclair/typebox';
import { Content, ConversationId, GroupRole, Id, JoinPolicy, PushOptions, Recipient, Seq } from './common.ts';

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
  /** The reader's device (absent on events from before it was recorded). */
  byDevice: Type.Optional(Type.String()),
});
export const GroupCreatedEvent = Type.Object({
  kind: Type.Literal('group_created'), ...Envelope, groupId: Id, name: Type.String(), members: Type.Array(Id),
  owner: Type.Optional(Id), joinPolicy: Type.Optional(JoinPolicy),
});
/** `from` is who joined them: the user themself, or the admin who invited or approved them. */
export const MemberJoinedEvent = Type.Object({
  kind: Type.Literal('member_joined'), ...Envelope, groupId: Id, user: Id,
});
/** `reason`: `left` (the user left) or `removed` (an admin, `from`, removed them). */
export const MemberLeftEvent = Type.Object({
  kind: Type.Literal('member_left'), ...Envelope, groupId: Id, user: Id,
  reason: Type.Optional(Type.Union([Type.Literal('left'), Type.Literal('removed')])),
});
/** A member's role changed: made admin or member by the owner, or made owner by a transfer (the old owner becomes an admin). */
export const MemberRoleEvent = Type.Object({
  kind: Type.Literal('member_role'), ...Envelope, groupId: Id, user: Id, role: GroupRole,
});
export const GroupUpdatedEvent = Type.Object({
  kind: Type.Literal('group_updated'), ...Envelope, groupId: Id, name: Type.Optional(Type.String()), joinPolicy: Type.Optional(JoinPolicy),
});
/** The group is gone: nobody can send to it, join it or read it any more; its id is not reused. */
export const GroupDissolvedEvent = Type.Object({
  kind: Type.Literal('group_dissolved'), ...Envelope, groupId: Id,
});
/** A join request to an `approval` group, delivered to the requester, the owner and the admins. */
export const JoinRequestedEvent = Type.Object({
  kind: Type.Literal('join_requested'), ...Envelope, groupId: Id, user: Id,
});
export const JoinRejectedEvent = Type.Object({
  kind: Type.Literal('join_rejected'), ...Envelope, groupId: Id, user: Id,
});

export const CallStateName = Type.Union([
  Type.Literal('ringing'), Type.Literal('accepted'), Type.Literal('rejected'),
  Type.Literal('timed_out'), Type.Literal('cancelled'), Type.Literal('ended'),
]);
export type CallStateName = Static<typeof CallStateName>;
/** Overall call states after which nothing can change. */
export const TERMINAL_CALL_STATES: ReadonlySet<string> = new Set(['rejected', 'timed_out', 'cancelled', 'ended']);
export const CallAction = Type.Union([
  Type.Literal('accept'), Type.Literal('reject'), Type.Literal('cancel'), Type.Literal('timeout'), Type.Literal('end'),
]);
export type CallAction = Static<typeof CallAction>;

export const CallInvitedEvent = Type.Object({
  kind: Type.Literal('call_invited'), ...Envelope,
  callId: Id, invitees: Type.Array(Id), deadline: Type.Integer({ description: 'ms since epoch; unanswered invitations time out then' }),
  data: Type.Optional(Type.String()), push: Type.Optional(PushOptions),
});
export const CallStateEvent = Type.Object({
  kind: Type.Literal('call_state'), ...Envelope,
  callId: Id, action: CallAction, state: CallStateName,
  invitees: Type.Record(Type.String(), CallStateName),
  byDevice: Type.Optional(Type.String()),
});

export const DeliveredEvent = Type.Union([
  MessageEvent, ReadEvent, GroupCreatedEvent, MemberJoinedEvent, MemberLeftEvent, MemberRoleEvent, GroupUpdatedEvent,
  GroupDissolvedEvent, JoinRequestedEvent, JoinRejectedEvent, CallInvitedEvent, CallStateEvent,
]);
export type DeliveredEvent = Static<typeof DeliveredEvent>;
export type MessageEvent = Static<typeof MessageEvent>;
export type EventKind = DeliveredEvent['kind'];
