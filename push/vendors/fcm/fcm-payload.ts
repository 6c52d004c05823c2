// Pure translation PushTarget + PushMessage -> firebase-admin `TokenMessage`.
// Shared with the sandbox provider so dev mode records what FCM would receive.

import type { TokenMessage } from 'firebase-admin/messaging';
import type { PushMessage, PushTarget } from '../contract.ts';
import { fitAlertText, jsonBytes, type AlertText } from '../text-fit.ts';

/** FCM HTTP v1 limit for the message payload (notification + data). */
export const FCM_MAX_PAYLOAD_BYTES = 4096;

export type FcmBuildResult =
  | { ok: true; message: TokenMessage; bytes: number; truncated: boolean }
  | { ok: false; reason: 'payload_too_large'; bytes: number; limit: number };

/**
 * What counts against FCM's 4096-byte limit: the user-visible notification and
 * the data map. Routing/options (token, android, webpush) do not, so they are
 * excluded to avoid truncating text that would have fit. The fake FCM server
 * measures the same way.
 */
export function fcmPayloadBytes(notification: { title?: string; body?: string } | undefined, data: Record<string, string>): number {
  return jsonBytes(notification ? { notification, data } : { data });
}

function notificationOf(text: AlertText): { title?: string; body?: string } {
  const n: { title?: string; body?: string } = {};
  if (text.title !== undefined && text.title !== '') n.title = text.title;
  if (text.body !== undefined && text.body !== '') n.body = text.body;
  return n;
}

export function buildFcmMessage(target: PushTarget, message: PushMessage, nowMs: number = Date.now()): FcmBuildResult {
  // FCM data values must be strings; pushId lets the client de-duplicate.
  const data: Record<string, string> = { ...message.data, pushId: message.id };
  // Background and call pushes are data-only: the app must run its own code
  // (sync / ConnectionService) instead of the OS showing a notification.
  const displays = message.kind === 'alert';
  const priority: 'high' | 'normal' = message.kind === 'voip' ? 'high' : message.priority;

  let text: AlertText = {};
  let truncated = false;
  if (displays) {
    const fitted = fitAlertText(
      { title: message.title, body: message.body },
      (t) => fcmPayloadBytes(notificationOf(t), data),
      FCM_MAX_PAYLOAD_BYTES,
    );
    if (!fitted) return { ok: false, reason: 'payload_too_large', bytes: fcmPayloadBytes(undefined, data), limit: FCM_MAX_PAYLOAD_BYTES };
    text = fitted.text;
    truncated = fitted.truncated;
  } else if (fcmPayloadBytes(undefined, data) > FCM_MAX_PAYLOAD_BYTES) {
    return { ok: false, reason: 'payload_too_large', bytes: fcmPayloadBytes(undefined, data), limit: FCM_MAX_PAYLOAD_BYTES };
  }

  const notification = displays ? notificationOf(text) : undefined;
  const hasNotification = notification !== undefined && Object.keys(notification).length > 0;

  const android: NonNullable<TokenMessage['android']> = { priority };
  if (message.collapseId !== undefined) android.collapseKey = message.collapseId;
  if (message.expiresAt !== undefined) {
    // firebase-admin wants milliseconds and sends "<seconds>s"; whole seconds keep it tidy.
    android.ttl = Math.max(0, Math.floor(message.expiresAt - nowMs / 1000)) * 1000;
  }
  if (hasNotification && (message.sound !== undefined || message.badge !== undefined)) {
    android.notification = {};
    if (message.sound !== undefined) android.notification.sound = message.sound;
    if (message.badge !== undefined) android.notification.notificationCount = message.badge;
  }

  const webpushHeaders: Record<string, string> = { Urgency: priority === 'high' ? 'high' : 'normal' };
  if (android.ttl !== undefined) webpushHeaders.TTL = String(android.ttl / 1000);

  const out: TokenMessage = { token: target.token, data, android, webpush: { headers: webpushHeaders } };
  if (hasNotification) out.notification = notification;
  return { ok: true, message: out, bytes: fcmPayloadBytes(hasNotification ? notification : undefined, data), truncated };
}
