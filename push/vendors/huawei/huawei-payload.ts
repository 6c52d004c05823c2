// Pure translation (credential, PushTarget, PushMessage, now) -> the exact Huawei v1 send request.
// The provider sends it; preview() shows it. Only `Authorization` is added at send time.

import type { PushMessage, PushTarget } from '../contract.ts';
import { ELLIPSIS, fitAlertText, type AlertText } from '../text-fit.ts';
import type { HuaweiCredential } from './huawei-credential.ts';
import {
  HUAWEI_BADGE_MAX,
  HUAWEI_CATEGORY,
  HUAWEI_CLICK_INTENT,
  HUAWEI_CLICK_OPEN_APP,
  HUAWEI_MAX_BODY_BYTES,
  HUAWEI_NOTIFY_ID_MAX,
  HUAWEI_PUSH_URL,
  HUAWEI_SEND_CONTENT_TYPE,
  huaweiSendPath,
} from './huawei-facts.ts';

export interface HuaweiRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  /** The JSON body as an object (what preview shows) and as the exact bytes sent. */
  body: Record<string, unknown>;
  bodyText: string;
}

export type HuaweiBuildResult =
  | { ok: true; request: HuaweiRequest; truncated: boolean; bytes: number }
  | { ok: false; reason: 'payload_too_large'; bytes: number; limit: number };

/** A stable non-negative Java int from a string (FNV-1a): same collapse id, same notify_id. */
export function notifyIdFor(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & HUAWEI_NOTIFY_ID_MAX;
}

function clickActionOf(credential: HuaweiCredential): Record<string, unknown> {
  const click = credential.clickAction;
  switch (click?.type) {
    case 'intent': return { type: HUAWEI_CLICK_INTENT, intent: click.intent };
    case 'action': return { type: HUAWEI_CLICK_INTENT, action: click.action };
    case 'url': return { type: 2, url: click.url };
    default: return { type: HUAWEI_CLICK_OPEN_APP };
  }
}

/** Whole seconds the vendor should keep the push; at least 1 (Huawei refuses a TTL in the past). */
export function ttlSeconds(expiresAt: number | undefined, nowMs: number): number | undefined {
  if (expiresAt === undefined) return undefined;
  return Math.max(1, Math.floor(expiresAt) - Math.floor(nowMs / 1000));
}

export function buildHuaweiRequest(credential: HuaweiCredential, target: PushTarget, message: PushMessage, nowMs: number): HuaweiBuildResult {
  // pushId lets the app de-duplicate a push that raced a reconnect (OPS-3), as with FCM.
  const data: Record<string, string> = { ...message.data, pushId: message.id };
  const dataOnly = message.kind !== 'alert';
  // A data message cannot set the launcher badge; the app gets the number and sets it itself.
  if (dataOnly && message.badge !== undefined && data.badge === undefined) data.badge = String(message.badge);

  const android: Record<string, unknown> = {};
  // collapse_key is deliberately not set: Huawei's is an integer group 0..100, and two
  // conversations hashing to one group would drop each other's pushes while the device is
  // offline. tag + notify_id collapse on the device instead (PAY-4).
  const ttl = ttlSeconds(message.expiresAt, nowMs);
  if (ttl !== undefined) android.ttl = `${ttl}s`;
  const category = HUAWEI_CATEGORY[message.purpose];
  if (category !== undefined) android.category = category;
  if (dataOnly) android.urgency = message.kind === 'voip' || message.priority === 'high' ? 'HIGH' : 'NORMAL';

  const isCall = message.purpose === 'call_ring' || message.purpose === 'call_over';
  const channelId = isCall ? credential.callChannelId ?? credential.channelId : credential.channelId;

  const bodyWith = (text: AlertText): Record<string, unknown> => {
    const androidOut: Record<string, unknown> = { ...android };
    if (!dataOnly) {
      // Both title and body are mandatory in a Huawei notification message.
      const notification: Record<string, unknown> = {
        title: text.title !== undefined && text.title !== '' ? text.title : ELLIPSIS,
        body: text.body !== undefined && text.body !== '' ? text.body : ELLIPSIS,
        click_action: clickActionOf(credential),
        importance: credential.importance ?? 'NORMAL',
      };
      if (channelId !== undefined) notification.channel_id = channelId;
      if (message.collapseId !== undefined) {
        notification.tag = message.collapseId;
        notification.notify_id = notifyIdFor(message.collapseId);
      }
      if (message.badge !== undefined && credential.badgeClass !== undefined) {
        notification.badge = { set_num: Math.min(Math.max(0, Math.floor(message.badge)), HUAWEI_BADGE_MAX), class: credential.badgeClass };
      }
      if (credential.foregroundShow !== undefined) notification.foreground_show = credential.foregroundShow;
      androidOut.notification = notification;
    }
    return {
      validate_only: false,
      message: { data: JSON.stringify(data), android: androidOut, token: [target.token] },
    };
  };
  const measure = (text: AlertText): number => Buffer.byteLength(JSON.stringify(bodyWith(text)), 'utf8');

  let text: AlertText = {};
  let truncated = false;
  if (!dataOnly) {
    const fitted = fitAlertText({ title: message.title, body: message.body }, measure, HUAWEI_MAX_BODY_BYTES);
    if (!fitted) return { ok: false, reason: 'payload_too_large', bytes: measure({}), limit: HUAWEI_MAX_BODY_BYTES };
    text = fitted.text;
    truncated = fitted.truncated;
  }
  const body = bodyWith(text);
  const bodyText = JSON.stringify(body);
  const bytes = Buffer.byteLength(bodyText, 'utf8');
  if (bytes > HUAWEI_MAX_BODY_BYTES) return { ok: false, reason: 'payload_too_large', bytes, limit: HUAWEI_MAX_BODY_BYTES };

  const base = (credential.endpoints?.pushUrl ?? HUAWEI_PUSH_URL).replace(/\/+$/, '');
  return {
    ok: true,
    request: {
      method: 'POST',
      url: `${base}${huaweiSendPath(credential.appId)}`,
      headers: { 'content-type': HUAWEI_SEND_CONTENT_TYPE, accept: 'application/json' },
      body,
      bodyText,
    },
    truncated,
    bytes,
  };
}
