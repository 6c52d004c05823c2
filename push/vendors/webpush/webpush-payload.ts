/**
 * Pure translation PushMessage → what the service worker reads (PAY-3) and the Web Push
 * request options (TTL, Urgency, Topic), shared by the provider and preview(). No I/O, no
 * clock of its own. The payload is JSON: {title, body, badge, data, purpose, kind, id}.
 */
import { createHash } from 'node:crypto';
import { fitAlertText, jsonBytes, type AlertText } from '../text-fit.ts';
import type { PushMessage, PushPurpose } from '../contract.ts';
import {
  WEBPUSH_DEFAULT_TTL_SEC, WEBPUSH_MAX_PLAINTEXT_BYTES, WEBPUSH_MAX_TTL_SEC, WEBPUSH_TOPIC_CHARS, type WebPushUrgency,
} from './webpush-facts.ts';

export interface WebPushPayload {
  title?: string;
  body?: string;
  badge?: number;
  data: Record<string, string>;
  purpose: PushPurpose;
  kind: PushMessage['kind'];
  /** The push id: the service worker can drop a duplicate. */
  id: string;
}

export interface WebPushSendOptions {
  TTL: number;
  urgency: WebPushUrgency;
  topic?: string;
}

export type WebPushBuildResult =
  | { ok: true; payload: WebPushPayload; json: string; options: WebPushSendOptions; truncated: boolean }
  | { ok: false; reason: 'payload_too_large'; bytes: number; limit: number };

function payloadOf(message: PushMessage, text: AlertText): WebPushPayload {
  return {
    ...(text.title !== undefined && text.title !== '' ? { title: text.title } : {}),
    ...(text.body !== undefined && text.body !== '' ? { body: text.body } : {}),
    ...(message.badge !== undefined ? { badge: message.badge } : {}),
    data: { ...message.data },
    purpose: message.purpose,
    kind: message.kind,
    id: message.id,
  };
}

/** high for calls and high-priority pushes, very-low for badge updates, low for other background pushes. */
export function webPushUrgency(message: PushMessage): WebPushUrgency {
  if (message.kind === 'voip' || message.purpose === 'call_ring') return 'high';
  if (message.kind === 'background') return message.purpose === 'badge_update' ? 'very-low' : 'low';
  return message.priority === 'high' ? 'high' : 'normal';
}

/** A Topic for a collapse id: the first 32 base64url characters of its SHA-256 (any id fits the alphabet and the length). */
export function webPushTopic(collapseId: string): string {
  return createHash('sha256').update(collapseId).digest('base64url').slice(0, WEBPUSH_TOPIC_CHARS);
}

export function webPushTtl(message: PushMessage, nowMs: number): number {
  if (message.expiresAt === undefined) return WEBPUSH_DEFAULT_TTL_SEC;
  return Math.min(WEBPUSH_MAX_TTL_SEC, Math.max(0, Math.floor(message.expiresAt - nowMs / 1000)));
}

export function buildWebPush(message: PushMessage, nowMs: number): WebPushBuildResult {
  const fitted = fitAlertText({ title: message.title, body: message.body }, (t) => jsonBytes(payloadOf(message, t)), WEBPUSH_MAX_PLAINTEXT_BYTES);
  if (!fitted) return { ok: false, reason: 'payload_too_large', bytes: jsonBytes(payloadOf(message, {})), limit: WEBPUSH_MAX_PLAINTEXT_BYTES };
  const payload = payloadOf(message, fitted.text);
  const options: WebPushSendOptions = { TTL: webPushTtl(message, nowMs), urgency: webPushUrgency(message) };
  if (message.collapseId !== undefined) options.topic = webPushTopic(message.collapseId);
  return { ok: true, payload, json: JSON.stringify(payload), options, truncated: fitted.truncated };
}
