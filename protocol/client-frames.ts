import { Type, type Static } from '@sinclair/typebox';
import { Content, ConversationId, Id, JoinPolicy, MAX_SEQ, PlainText, Platform, PushOptions, Recipient, Ref, Seq } from './common.ts';

const strict = { additionalProperties: false } as const;

export const LoginFrame = Type.Object({
  type: Type.Literal('login'), ref: Ref,
  token: Type.String({ minLength: 1, maxLength: 2048 }),
  deviceId: Id,
  platform: Platform,
}, strict);
export const LogoutFrame = Type.Object({ type: Type.Literal('logout'), ref: Ref }, strict);
export const PingFrame = Type.Object({ type: Type.Literal('ping'), ref: Ref, t: Type.Optional(Type.Number()) }, strict);
export const SendFrame = Type.Object({
  type: Type.Literal('send'), ref: Ref,
  clientMsgId: Type.String({ minLength: 1, maxLength: 64 }),
  to: Recipient,
  content: Content,
  push: Type.Optional(PushOptions),
}, strict);
export const AckFrame = Type.Object({ type: Type.Literal('ack'), ref: Ref, seq: Seq }, strict);
export const SyncFrame = Type.Object({
  type: Type.Literal('sync'), ref: Ref,
  after: Type.Optional(Seq),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
}, strict);
export const GroupCreateFrame = Type.Object({
  type: Type.Literal('group_create'), ref: Ref,
  groupId: Type.Optional(Id),
  name: PlainText({ maxLength: 128 }),
  members: Type.Array(Id, { maxItems: 10000 }),
  joinPolicy: Type.Optional(JoinPolicy),
}, strict);
export const GroupJoinFrame = Type.Object({ type: Type.Literal('group_join'), ref: Ref, groupId: Id }, strict);
export const GroupLeaveFrame = Type.Object({ type: Type.Literal('group_leave'), ref: Ref, groupId: Id }, strict);
export const GroupMembersFrame = Type.Object({ type: Type.Literal('group_members'), ref: Ref, groupId: Id }, strict);
const groupUser = <T extends string>(type: T) => Type.Object({ type: Type.Literal(type), ref: Ref, groupId: Id, user: Id }, strict);
export const GroupInviteFrame = Type.Object({ type: Type.Literal('group_invite'), ref: Ref, groupId: Id, users: Type.Array(Id, { minItems: 1, maxItems: 1000 }) }, strict);
export const GroupRemoveFrame = groupUser('group_remove');
export const GroupApproveFrame = groupUser('group_approve');
export const GroupRejectFrame = groupUser('group_reject');
export const GroupTransferFrame = groupUser('group_transfer');
export const GroupSetRoleFrame = Type.Object({
  type: Type.Literal('group_set_role'), ref: Ref, groupId: Id, user: Id, role: Type.Union([Type.Literal('admin'), Type.Literal('member')]),
}, strict);
export const GroupUpdateFrame = Type.Object({
  type: Type.Literal('group_update'), ref: Ref, groupId: Id, name: Type.Optional(Type.String({ maxLength: 128 })), joinPolicy: Type.Optional(JoinPolicy),
}, strict);
export const GroupDissolveFrame = Type.Object({ type: Type.Literal('group_dissolve'), ref: Ref, groupId: Id }, strict);
export const ReadFrame = Type.Object({
  type: Type.Literal('read'), ref: Ref,
  conversation: ConversationId,
  upTo: Type.Integer({ minimum: 1, maximum: MAX_SEQ, description: 'eventId of the newest event read in this conversation' }),
}, strict);
/** A registration kind the server knows ('apns', 'apns-voip', 'fcm', …; docs/PUSH.md lists them); checked against the server's vendor registry. */
export const PushProviderName = Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z0-9-]+$' });
/** A vendor token: a string, or an object for vendors whose registration is one (a Web Push subscription). Each vendor checks its own shape. */
export const PushToken = Type.Union([
  PlainText({ minLength: 1, maxLength: 4096 }),
  Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 16 }),
]);
export const PushRegisterFrame = Type.Object({
  type: Type.Literal('push_register'), ref: Ref,
  provider: PushProviderName,
  token: PushToken,
  credential: PlainText({ minLength: 1, maxLength: 256 }),
  environment: Type.Optional(Type.Union([Type.Literal('development'), Type.Literal('production')])),
  topic: Type.Optional(PlainText({ minLength: 1, maxLength: 255 })),
}, strict);
export const PushUnregisterFrame = Type.Object({
  type: Type.Literal('push_unregister'), ref: Ref, provider: Type.Optional(PushProviderName),
}, strict);
export const CallInviteFrame = Type.Object({
  type: Type.Literal('call_invite'), ref: Ref,
  invitees: Type.Array(Id, { minItems: 1, maxItems: 64 }),
  timeoutSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 600 })),
  data: Type.Optional(Type.String({ maxLength: 4096 })),
  push: Type.Optional(PushOptions),
}, strict);
const callAnswer = <T extends string>(type: T) => Type.Object({ type: Type.Literal(type), ref: Ref, callId: Id }, strict);
export const CallAcceptFrame = callAnswer('call_accept');
export const CallRejectFrame = callAnswer('call_reject');
export const CallCancelFrame = callAnswer('call_cancel');
export const CallEndFrame = callAnswer('call_end');
export const DndWindow = Type.Object({
  start: Type.Integer({ minimum: 0, maximum: 1439, description: 'minutes after local midnight' }),
  end: Type.Integer({ minimum: 0, maximum: 1439 }),
  timeZone: PlainText({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. Asia/Shanghai' }),
}, strict);
export const SettingsGetFrame = Type.Object({ type: Type.Literal('settings_get'), ref: Ref }, strict);
export const SettingsUpdateFrame = Type.Object({
  type: Type.Literal('settings_update'), ref: Ref,
  displayName: Type.Optional(Type.Union([PlainText({ minLength: 1, maxLength: 64 }), Type.Null()])),
  displayStyle: Type.Optional(Type.Union([Type.Literal('banner'), Type.Literal('summary')])),
  dnd: Type.Optional(Type.Union([DndWindow, Type.Null()])),
  pushEnabled: Type.Optional(Type.Boolean()),
  syncBadges: Type.Optional(Type.Boolean()),
}, strict);
export const MuteFrame = Type.Object({
  type: Type.Literal('mute'), ref: Ref, to: Recipient, muted: Type.Boolean(),
}, strict);
export const BlockFrame = Type.Object({ type: Type.Literal('block'), ref: Ref, user: Id, blocked: Type.Boolean() }, strict);
export const UnreadFrame = Type.Object({ type: Type.Literal('unread'), ref: Ref }, strict);

export const ClientFrame = Type.Union([
  LoginFrame, LogoutFrame, PingFrame, SendFrame, AckFrame, SyncFrame,
  GroupCreateFrame, GroupJoinFrame, GroupLeaveFrame, GroupMembersFrame, GroupInviteFrame, GroupRemoveFrame, GroupApproveFrame,
  GroupRejectFrame, GroupTransferFrame, GroupSetRoleFrame, GroupUpdateFrame, GroupDissolveFrame, ReadFrame, UnreadFrame,
  PushRegisterFrame, PushUnregisterFrame,
  CallInviteFrame, CallAcceptFrame, CallRejectFrame, CallCancelFrame, CallEndFrame,
  SettingsGetFrame, SettingsUpdateFrame, MuteFrame, BlockFrame,
]);
export type ClientFrame = Static<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['type'];
export type ClientFrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>;

/** Every client frame type, in schema order. */
export const CLIENT_FRAME_TYPES: readonly ClientFrameType[] = ClientFrame.anyOf.map((schema) => schema.properties.type.const);
