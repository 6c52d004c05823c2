// Pure translation (credential, PushTarget, PushMessage, now) -> the exact Huawei v1 send request.
// The provider sends it; preview() shows it. Only `Authorization` is added at send time.

import type { PushMessage, PushTarget } from '../contract.ts';
import { channelFor, fnv1a32, ttlSeconds } from '../notification-fields.ts';
import { fitJsonBody, orEllipsis, type AlertText } from '../text-fit.ts';
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

/** A stable non-negative Java int from a string: same collapse id, same notify_id. */
export function notifyIdFor(key: string): number {
  return fnv1a32(key) & HUAWEI_NOTIFY_ID_MAX;
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
  // At least 1 s: Huawei refuses a TTL in the past.
  const ttl = ttlSeconds(message.expiresAt, nowMs);
  if (ttl !== undefined) android.ttl = `${ttl}s`;
  const category = HUAWEI_CATEGORY[message.purpose];
  if (category !== undefined) android.category = category;
  if (dataOnly) android.urgency = message.kind === 'voip' || message.priority === 'high' ? 'HIGH' : 'NORMAL';

  const channelId = channelFor(message.purpose, credential);

  const bodyWith = (text: AlertText): Record<string, unknown> => {
    const androidOut: Record<string, unknown> = { ...android };
    if (!dataOnly) {
      // Both title and body are mandatory in a Huawei notification message.
      const notification: Record<string, unknown> = {
        title: orEllipsis(text.title),
        body: orEllipsis(text.body),
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
  const fitted = fitJsonBody(bodyWith, dataOnly ? undefined : { title: message.title, body: message.body }, HUAWEI_MAX_BODY_BYTES);
  if (!fitted.ok) return fitted;

  const base = (credential.endpoints?.pushUrl ?? HUAWEI_PUSH_URL).replace(/\/+$/, '');
  return {
    ok: true,
    request: {
      method: 'POST',
      url: `${base}${huaweiSendPath(credential.appId)}`,
      headers: { 'content-type': HUAWEI_SEND_CONTENT_TYPE, accept: 'application/json' },
      body: fitted.body,
      bodyText: fitted.bodyText,
    },
    truncated: fitted.truncated,
    bytes: fitted.bytes,
  };
}
