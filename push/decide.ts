import type { DeliveredEvent, PushOptions } from '../protocol/index.ts';
import type { PushBinding, StoredEvent } from '../storage/index.ts';
import type { PushMessage } from './providers/types.ts';

/** Why a push was not sent; the strings are stable and appear in the trace (OPS-2). */
export type SuppressReason = 'not_pushable' | 'own_message' | 'no_push_option' | 'custom_without_text';

export type PushDecision =
  | { push: true; message: Omit<PushMessage, 'id'> }
  | { push: false; reason: SuppressReason };

export interface DecideInput {
  event: StoredEvent;
  recipient: string;
  binding: PushBinding;
}

export interface PayloadDefaults {
  /** Banner shown when the sender gave no push text: a privacy default (SET-2). */
  defaultTitle: string;
  defaultBody: string;
  /** Seconds a push stays deliverable at the vendor (apns-expiration / android ttl). */
  ttlSec: number;
}

/** Kinds that ever produce a push; read receipts and membership changes never do. */
export const PUSHABLE_KINDS: ReadonlySet<string> = new Set(['message']);

export function isPushable(event: StoredEvent, recipient: string): boolean {
  return PUSHABLE_KINDS.has(event.kind) && event.sender !== recipient;
}

/**
 * The single place that decides whether and what to push for one event and one device.
 * Receiver settings (DND, mute, display style, badge, collapse) extend this function.
 */
export function decidePush({ event, recipient }: DecideInput, defaults: PayloadDefaults, now = Date.now()): PushDecision {
  if (!PUSHABLE_KINDS.has(event.kind)) return { push: false, reason: 'not_pushable' };
  if (event.sender === recipient) return { push: false, reason: 'own_message' };
  const body = JSON.parse(event.json) as Extract<DeliveredEvent, { kind: 'message' }>;
  const options: PushOptions = body.push ?? {};
  if (options.noPush) return { push: false, reason: 'no_push_option' };
  // MSG-5: the server cannot render an app-defined message; only sender-given text is shown.
  if (body.content.type === 'custom' && !options.content) return { push: false, reason: 'custom_without_text' };
  const group = 'group' in body.to ? body.to.group : undefined;
  const data: Record<string, string> = {
    sender: event.sender,
    receiver: recipient,
    messageId: body.messageId,
    eventId: String(event.eventId),
    conversationType: group !== undefined ? 'group' : 'peer',
    conversation: event.conversation,
  };
  if (group !== undefined) data.group = group;
  if (options.payload !== undefined) data.payload = options.payload;
  if (options.resourcesId !== undefined) data.resourcesId = options.resourcesId;
  for (const [key, value] of Object.entries(options.custom ?? {})) if (!(key in data)) data[key] = value;
  return {
    push: true,
    message: {
      kind: 'alert',
      priority: 'high',
      expiresAt: Math.floor(now / 1000) + defaults.ttlSec,
      title: options.title ?? defaults.defaultTitle,
      body: options.content ?? defaults.defaultBody,
      ...(options.sound !== undefined ? { sound: options.sound } : {}),
      ...(options.mutableContent !== undefined ? { mutableContent: options.mutableContent } : {}),
      data,
    },
  };
}
