import { Type, type Static } from '@sinclair/typebox';

/** The one rule for user, group and device ids: short, printable, no separators we use in conversation ids. */
export const ID_PATTERN = '^[A-Za-z0-9_.@-]{1,64}$';
export const isId = (value: unknown): value is string => typeof value === 'string' && new RegExp(ID_PATTERN).test(value);
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: ID_PATTERN });
/**
 * Text the server stores as a column and shows in notifications (names, tokens, time zones):
 * no control characters. NUL in particular cannot be stored in a PostgreSQL text column, and a
 * line break or escape in a notification title is never what a sender meant.
 */
export const PLAIN_TEXT_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';
export const PlainText = (options: { minLength?: number; maxLength: number; description?: string }) =>
  Type.String({ ...options, pattern: PLAIN_TEXT_PATTERN });
/** Optional client correlation id, echoed on the reply or error for this request. */
export const Ref = Type.Optional(Type.String({ maxLength: 64 }));
/** Seqs and event ids fit a JavaScript number exactly and a 64-bit column (SQLite INTEGER, PostgreSQL BIGINT). */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
export const Seq = Type.Integer({ minimum: 0, maximum: MAX_SEQ });
export const Platform = Type.Union([
  Type.Literal('ios'), Type.Literal('android'), Type.Literal('web'), Type.Literal('desktop'),
]);
export type Platform = Static<typeof Platform>;
export const PLATFORMS: readonly Platform[] = ['ios', 'android', 'web', 'desktop'];

/** Conversation ids: `p:<userA>:<userB>` (sorted) for peer chats, `g:<groupId>` for groups, `c:<callId>` for a call's signalling. */
export const ConversationId = Type.String({ minLength: 3, maxLength: 140, pattern: '^(p:[A-Za-z0-9_.@-]+:[A-Za-z0-9_.@-]+|[gc]:[A-Za-z0-9_.@-]+)$' });

export function peerConversation(a: string, b: string): string {
  return a < b ? `p:${a}:${b}` : `p:${b}:${a}`;
}
export function groupConversation(groupId: string): string {
  return `g:${groupId}`;
}
export function callConversation(callId: string): string {
  return `c:${callId}`;
}
export type ParsedConversation = { kind: 'peer'; users: [string, string] } | { kind: 'group'; groupId: string } | { kind: 'call'; callId: string };
export function parseConversation(id: string): ParsedConversation | undefined {
  if (id.startsWith('g:')) return { kind: 'group', groupId: id.slice(2) };
  if (id.startsWith('c:')) return { kind: 'call', callId: id.slice(2) };
  if (id.startsWith('p:')) {
    const parts = id.split(':');
    if (parts.length === 3 && parts[1] && parts[2]) return { kind: 'peer', users: [parts[1], parts[2]] };
  }
  return undefined;
}

/** The other participant of a peer conversation, or undefined (group, or a note-to-self). */
export function peerOf(conversation: string, user: string): string | undefined {
  const parsed = parseConversation(conversation);
  if (parsed?.kind !== 'peer') return undefined;
  return parsed.users.find((u) => u !== user);
}

/** Who may join a group: by invitation only (the default), anyone who knows its id, or on request approved by an admin. */
export const JoinPolicy = Type.Union([Type.Literal('invite'), Type.Literal('open'), Type.Literal('approval')]);
export type JoinPolicy = Static<typeof JoinPolicy>;
/** A member's role in a group: one owner (the creator, until ownership is transferred), admins, members. */
export const GroupRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
export type GroupRole = Static<typeof GroupRole>;

export const Recipient = Type.Union([
  Type.Object({ user: Id }, { additionalProperties: false }),
  Type.Object({ group: Id }, { additionalProperties: false }),
]);
export type Recipient = Static<typeof Recipient>;

/** Message content. `custom` is app-defined and never rendered by the server (MSG-5). */
export const Content = Type.Union([
  Type.Object({ type: Type.Literal('text'), text: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('custom'), data: Type.String(), description: Type.Optional(Type.String()) }, { additionalProperties: false }),
]);
export type Content = Static<typeof Content>;

/** Per-message push options (OPT-1..4); the sizes are enforced again by push rules. */
export const PushOptions = Type.Object({
  title: Type.Optional(Type.String({ maxLength: 256 })),
  content: Type.Optional(Type.String({ maxLength: 2048 })),
  payload: Type.Optional(Type.String({ maxLength: 2048 })),
  resourcesId: Type.Optional(Type.String({ maxLength: 64 })),
  sound: Type.Optional(Type.String({ maxLength: 64 })),
  mutableContent: Type.Optional(Type.Boolean()),
  custom: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.String({ maxLength: 512 }), { maxProperties: 16, additionalProperties: false })),
  force: Type.Optional(Type.Boolean()),
  noPush: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
export type PushOptions = Static<typeof PushOptions>;
