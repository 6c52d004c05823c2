import { Type, type Static } from '@sinclair/typebox';
import { ConversationId, GroupRole, Id, JoinPolicy, Platform, Seq } from './common.ts';
import { DeliveredEvent } from './events.ts';
import { ERROR_CODES, type ErrorCode } from './errors.ts';

const Ref = Type.Optional(Type.String());

export const LoginOkFrame = Type.Object({
  type: Type.Literal('login_ok'), ref: Ref,
  userId: Id, deviceId: Id, platform: Platform, sessionId: Type.String(),
  headSeq: Seq, ackedSeq: Seq,
  heartbeatIntervalMs: Type.Integer(), heartbeatTimeoutMs: Type.Integer(), serverTime: Type.Integer(),
});
export const LoggedOutFrame = Type.Object({ type: Type.Literal('logged_out'), ref: Ref });
export const PongFrame = Type.Object({ type: Type.Literal('pong'), ref: Ref, t: Type.Optional(Type.Number()), serverTime: Type.Integer() });
export const SendAckFrame = Type.Object({
  type: Type.Literal('send_ack'), ref: Ref,
  clientMsgId: Type.String(), messageId: Type.String(), eventId: Seq, seq: Seq,
  conversation: ConversationId, at: Type.Integer(), duplicate: Type.Boolean(),
});
export const EventsFrame = Type.Object({ type: Type.Literal('events'), events: Type.Array(DeliveredEvent) });
export const SyncPageFrame = Type.Object({
  type: Type.Literal('sync_page'), ref: Ref, events: Type.Array(DeliveredEvent), hasMore: Type.Boolean(),
});
export const SyncDoneFrame = Type.Object({ type: Type.Literal('sync_done'), ref: Ref, headSeq: Seq });
export const GroupCreatedFrame = Type.Object({ type: Type.Literal('group_created'), ref: Ref, groupId: Id, eventId: Seq });
export const GroupMembersListFrame = Type.Object({
  type: Type.Literal('group_members_list'), ref: Ref, groupId: Id, members: Type.Array(Id),
  roles: Type.Record(Type.String(), GroupRole), joinPolicy: JoinPolicy, name: Type.String(),
  /** Pending join requests (`approval` groups), shown to the owner and admins only. */
  requests: Type.Optional(Type.Array(Id)),
});
export const UnreadCountsFrame = Type.Object({
  type: Type.Literal('unread_counts'), ref: Ref, total: Type.Integer(),
  conversations: Type.Record(Type.String(), Type.Integer()),
});
export const PushRegisteredFrame = Type.Object({
  type: Type.Literal('push_registered'), ref: Ref, pushId: Type.String(), provider: Type.String(),
});
export const CallCreatedFrame = Type.Object({
  type: Type.Literal('call_created'), ref: Ref, callId: Id, eventId: Seq, deadline: Type.Integer(),
});
export const SettingsFrame = Type.Object({
  type: Type.Literal('settings'), ref: Ref,
  displayName: Type.Union([Type.String(), Type.Null()]),
  displayStyle: Type.Union([Type.Literal('banner'), Type.Literal('summary')]),
  dnd: Type.Union([Type.Object({ start: Type.Integer(), end: Type.Integer(), timeZone: Type.String() }), Type.Null()]),
  pushEnabled: Type.Boolean(),
  syncBadges: Type.Boolean(),
  muted: Type.Array(Type.String()),
  blocked: Type.Array(Type.String()),
});
/** Exactly the codes of the one table (protocol/errors.ts), so a typed client can switch on them. */
const ErrorCodeSchema = Type.Union((Object.keys(ERROR_CODES) as ErrorCode[]).map((code) => Type.Literal(code)));
/** The client frames answered with `ok` (`for` names the request). */
export const OK_FOR = [
  'group_join', 'group_leave', 'group_invite', 'group_remove', 'group_approve', 'group_reject', 'group_transfer', 'group_set_role',
  'group_update', 'group_dissolve', 'read', 'push_unregister', 'call_accept', 'call_reject', 'call_cancel', 'call_end',
] as const;
export const OkFrame = Type.Object({
  type: Type.Literal('ok'), ref: Ref, for: Type.Union(OK_FOR.map((t) => Type.Literal(t))), eventId: Type.Optional(Seq),
  /** group_invite: the invitees that were refused, each with its error code (the others were added). */
  failed: Type.Optional(Type.Array(Type.Object({ user: Id, code: ErrorCodeSchema }))),
});
export const KickedFrame = Type.Object({
  type: Type.Literal('kicked'), reason: Type.String(), byDeviceId: Type.Optional(Type.String()),
});
export const ReconnectFrame = Type.Object({ type: Type.Literal('reconnect'), reason: Type.String(), afterMs: Type.Integer() });
export const ErrorFrame = Type.Object({
  type: Type.Literal('error'), ref: Ref, code: ErrorCodeSchema, message: Type.String(), retryable: Type.Boolean(),
  retryAfterMs: Type.Optional(Type.Integer()), details: Type.Optional(Type.Unknown()),
});

export const ServerFrame = Type.Union([
  LoginOkFrame, LoggedOutFrame, PongFrame, SendAckFrame, EventsFrame, SyncPageFrame, SyncDoneFrame,
  GroupCreatedFrame, GroupMembersListFrame, UnreadCountsFrame, PushRegisteredFrame, CallCreatedFrame, SettingsFrame, OkFrame, KickedFrame, ReconnectFrame, ErrorFrame,
]);
export type ServerFrame = Static<typeof ServerFrame>;
export type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
