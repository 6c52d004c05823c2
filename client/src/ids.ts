import type { Recipient } from './wire.ts';

/** A fresh clientMsgId (the idempotency key of a send, LOG-2): a UUID where the platform has one. */
export function newClientMsgId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * The conversation id of a chat with `to`, seen by `me` (docs/PROTOCOL.md#conversation-ids):
 * `p:<a>:<b>` with the two ids sorted, or `g:<groupId>`. The same rule as protocol/common.ts,
 * restated here because importing that module would bring its schemas (TypeBox) into the bundle.
 */
export function conversationFor(me: string, to: Recipient): string {
  if ('group' in to) return `g:${to.group}`;
  return me < to.user ? `p:${me}:${to.user}` : `p:${to.user}:${me}`;
}
