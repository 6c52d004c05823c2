import type { DeliveredEvent, PushOptions } from '../protocol/index.ts';
import { DEFAULT_SETTINGS, missedBy, type CallRecord, type PushJobKind, type StoredEvent, type UserSettings } from '../storage/index.ts';
import { inDnd } from './dnd.ts';
import type { PushMessage } from './vendors/contract.ts';

/** Why a push was not sent; the strings are stable and appear in the trace (OPS-2). */
export type SuppressReason =
  | 'not_pushable' | 'own_message' | 'no_push_option' | 'custom_without_text' | 'call_over'
  | 'push_disabled' | 'blocked' | 'muted' | 'dnd' | 'badge_sync_off';

export type PushDecision =
  | { push: true; message: Omit<PushMessage, 'id'> }
  | { push: false; reason: SuppressReason };

export interface DecideInput {
  event: StoredEvent;
  recipient: string;
  /** The device's carrier is a VoIP channel (PushKit): a ring goes as a VoIP push. */
  voipCarrier: boolean;
  /** The call's read model now, for call events (a ring for a call that is over is never sent). */
  call?: CallRecord | undefined;
  /** The receiver's settings (SET-*); defaults when absent. */
  settings?: UserSettings;
  /** How the sender is shown (SET-1: their display name, else their id). */
  senderName?: string;
  /** Group name for group messages, shown in summary style. */
  groupName?: string;
  /** PAY-2: the receiver's unread count across conversations. */
  badge?: number;
  /** PAY-4: how many queued messages of this conversation this one notification stands for. */
  collapsedCount?: number;
}

export interface PayloadDefaults {
  /** Banner shown when the sender gave no push text: a privacy default (SET-2). */
  defaultTitle: string;
  defaultBody: string;
  /** Seconds a push stays deliverable at the vendor (apns-expiration / android ttl). */
  ttlSec: number;
}

export type PushKind = PushJobKind;

type MessageBody = Extract<DeliveredEvent, { kind: 'message' }>;
type CallInvitedBody = Extract<DeliveredEvent, { kind: 'call_invited' }>;
type CallStateBody = Extract<DeliveredEvent, { kind: 'call_state' }>;

/**
 * What kind of push, if any, an event may produce for a recipient: messages from others (MSG-1,2),
 * a ring for each invitee of a new call and a "missed call" for invitees who never answered a
 * call that is over (MSG-3). Read receipts and membership changes never push.
 */
export function pushKindFor(event: StoredEvent, recipient: string): PushKind | undefined {
  switch (event.kind) {
    case 'message':
      return event.sender !== recipient ? 'message' : undefined;
    case 'call_invited':
      return (JSON.parse(event.json) as CallInvitedBody).invitees.includes(recipient) ? 'call_ring' : undefined;
    case 'call_state': {
      const body = JSON.parse(event.json) as CallStateBody;
      return missedBy(body, recipient) ? 'missed_call' : undefined;
    }
    default:
      return undefined;
  }
}

export function isPushable(event: StoredEvent, recipient: string): boolean {
  return pushKindFor(event, recipient) !== undefined;
}

function optionsData(options: PushOptions, data: Record<string, string>): void {
  if (options.payload !== undefined) data.payload = options.payload;
  if (options.resourcesId !== undefined) data.resourcesId = options.resourcesId;
  for (const [key, value] of Object.entries(options.custom ?? {})) if (!(key in data)) data[key] = value;
}

/**
 * The single place that decides whether and what to push for one event and one device.
 * Receiver settings (DND, mute, display style, badge, collapse) extend this function.
 */
export function decidePush(input: DecideInput, defaults: PayloadDefaults, now = Date.now()): PushDecision {
  const { event, recipient, call } = input;
  const settings = input.settings ?? DEFAULT_SETTINGS;
  const kind = pushKindFor(event, recipient);
  if (!kind) return { push: false, reason: event.sender === recipient ? 'own_message' : 'not_pushable' };
  // Receiver settings come first: they hold whatever the sender asked for (SET-5, SET-6).
  if (!settings.pushEnabled) return { push: false, reason: 'push_disabled' };
  const from = call?.inviter ?? event.sender;
  if (settings.blocked.includes(from)) return { push: false, reason: 'blocked' };
  const badge = input.badge !== undefined ? { badge: input.badge } : {};
  if (kind === 'call_ring' || kind === 'missed_call') {
    const body = JSON.parse(event.json) as CallInvitedBody | CallStateBody;
    // A ring past its deadline is dead even if the timeout has not been logged yet (e.g. the
    // outbox resumed after a restart before the overdue call was timed out).
    if (kind === 'call_ring' && (!call || call.invitees[recipient] !== 'ringing' || call.deadline <= now)) return { push: false, reason: 'call_over' };
    const invite = kind === 'call_ring' ? (body as CallInvitedBody) : undefined;
    const options: PushOptions = invite?.push ?? {};
    if (!options.force && inDnd(settings.dnd, now)) return { push: false, reason: 'dnd' };
    const data: Record<string, string> = {
      type: kind, callId: body.callId, sender: call?.inviter ?? event.sender, receiver: recipient, eventId: String(event.eventId),
    };
    optionsData(options, data);
    return {
      push: true,
      message: {
        purpose: kind,
        kind: kind === 'call_ring' && input.voipCarrier ? 'voip' : 'alert',
        priority: 'high',
        // A ring is worthless after the deadline; the later "missed call" replaces it (same collapse id).
        expiresAt: Math.floor((invite ? invite.deadline : now + defaults.ttlSec * 1000) / 1000),
        collapseId: `call-${body.callId}`,
        title: options.title ?? (invite ? 'Incoming call' : 'Missed call'),
        body: options.content ?? (settings.displayStyle === 'summary'
          ? `${input.senderName ?? from} ${invite ? 'is calling' : 'called'}`
          : (invite ? 'You have an incoming call' : 'You missed a call')),
        ...(options.sound !== undefined ? { sound: options.sound } : {}),
        ...badge,
        data,
      },
    };
  }
  const body = JSON.parse(event.json) as MessageBody;
  const options: PushOptions = body.push ?? {};
  if (settings.muted.includes(event.conversation)) return { push: false, reason: 'muted' };
  if (options.noPush) return { push: false, reason: 'no_push_option' };
  // MSG-5: the server cannot render an app-defined message; only sender-given text is shown.
  if (body.content.type === 'custom' && !options.content) return { push: false, reason: 'custom_without_text' };
  // OPT-3: a forced push ignores the receiver's do-not-disturb window, nothing else.
  if (!options.force && inDnd(settings.dnd, now)) return { push: false, reason: 'dnd' };
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
  optionsData(options, data);
  const count = input.collapsedCount ?? 1;
  if (count > 1) data.count = String(count);
  const text = renderMessageText(body, settings, input, defaults, count);
  return {
    push: true,
    message: {
      purpose: 'message',
      kind: 'alert',
      priority: 'high',
      expiresAt: Math.floor(now / 1000) + defaults.ttlSec,
      // PAY-4: one lock-screen entry per conversation; a newer push replaces the older one.
      collapseId: collapseIdFor(event.conversation),
      // OPT-1: text the sender chose for the notification is shown as given; otherwise the
      // receiver's display style decides (SET-2), the plain banner being the privacy default.
      title: count === 1 && options.title !== undefined ? options.title : text.title,
      body: count === 1 && options.content !== undefined ? options.content : text.body,
      ...(options.sound !== undefined ? { sound: options.sound } : {}),
      ...(options.mutableContent !== undefined ? { mutableContent: options.mutableContent } : {}),
      ...badge,
      data,
    },
  };
}

export interface FollowUpInput {
  kind: 'badge_update' | 'call_over';
  event: StoredEvent;
  recipient: string;
  settings: UserSettings;
  /** PAY-2: the receiver's unread count now. */
  badge: number;
  /** badge_update: every conversation this update stands for (a burst of reads). */
  conversations: readonly string[];
  call?: CallRecord | undefined;
}

/**
 * The silent follow-ups of earlier pushes, never shown as a notification: a badge update after a
 * read on another device (the exact badge, and which conversations' notifications to remove:
 * Mattermost's `clear` push), and the end of a ring (the call id and how it ended, so CallKit or
 * ConnectionService stop ringing; answered elsewhere is not a missed call). DND does not hold
 * them back: they make a device quieter, not louder.
 */
export function decideFollowUp(input: FollowUpInput): PushDecision {
  const { kind, event, settings } = input;
  if (!settings.pushEnabled) return { push: false, reason: 'push_disabled' };
  const base = { eventId: String(event.eventId), receiver: input.recipient };
  if (kind === 'badge_update') {
    if (!settings.syncBadges) return { push: false, reason: 'badge_sync_off' };
    return {
      push: true,
      message: {
        purpose: 'badge_update', kind: 'background', priority: 'normal', badge: input.badge, collapseId: 'badge',
        data: { type: 'badge_update', badge: String(input.badge), conversations: [...new Set(input.conversations)].join(','), ...base },
      },
    };
  }
  const body = JSON.parse(event.json) as CallStateBody;
  const mine = body.invitees[input.recipient] ?? input.call?.invitees[input.recipient];
  return {
    push: true,
    message: {
      purpose: 'call_over', kind: 'background', priority: 'high', badge: input.badge, collapseId: `call-over-${body.callId}`,
      data: { type: 'call_over', callId: body.callId, state: body.state, ...(mine !== undefined ? { yourState: mine } : {}), ...base },
    },
  };
}

function renderMessageText(body: MessageBody, settings: UserSettings, input: DecideInput, defaults: PayloadDefaults, count: number): { title: string; body: string } {
  if (settings.displayStyle !== 'summary') {
    return { title: defaults.defaultTitle, body: count > 1 ? `You have ${count} new messages` : defaults.defaultBody };
  }
  const sender = input.senderName ?? body.from;
  const title = input.groupName !== undefined ? input.groupName : sender;
  // A collapsed group chat may have several senders: name the group, not one of them.
  if (count > 1) return { title, body: input.groupName !== undefined ? `${count} new messages` : `${count} new messages from ${sender}` };
  const text = body.content.type === 'text' ? body.content.text : (body.content.description ?? defaults.defaultBody);
  return { title, body: input.groupName !== undefined ? `${sender}: ${text}` : text };
}

/** APNs allows 64 bytes of collapse id; long conversation ids are hashed down. */
export function collapseIdFor(conversation: string): string {
  if (conversation.length <= 60) return conversation;
  let h = 0;
  for (let i = 0; i < conversation.length; i++) h = (Math.imul(h, 31) + conversation.charCodeAt(i)) >>> 0;
  return `${conversation.slice(0, 50)}~${h.toString(36)}`;
}
