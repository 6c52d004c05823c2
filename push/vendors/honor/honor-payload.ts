// Pure translation (credential, PushTarget, PushMessage, now) -> the exact Honor sendMessage
// request: Huawei's shape in camelCase, plus the `timestamp` header (ms). The provider sends it;
// preview() shows it. Only `Authorization` is added at send time.

import type { PushMessage, PushTarget } from '../contract.ts';
import { channelFor, fnv1a32, ttlSeconds } from '../notification-fields.ts';
import { fitJsonBody, orEllipsis, type AlertText } from '../text-fit.ts';
import type { HonorCredential } from './honor-credential.ts';
import {
  HONOR_BADGE_MAX,
  HONOR_CLICK_INTENT,
  HONOR_CLICK_OPEN_APP,
  HONOR_CLICK_URL,
  HONOR_MAX_BODY_BYTES,
  HONOR_NOTIFY_ID_MAX,
  HONOR_PUSH_URL,
  HONOR_SEND_CONTENT_TYPE,
  HONOR_TIMESTAMP_HEADER,
  honorSendPath,
} from './honor-facts.ts';

export interface HonorRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  bodyText: string;
}

export type HonorBuildResult =
  | { ok: true; request: HonorRequest; truncated: boolean; bytes: number }
  | { ok: false; reason: 'payload_too_large'; bytes: number; limit: number };

/** A stable non-negative Java int from a string: same collapse id, same notifyId. */
export function notifyIdFor(key: string): number {
  return fnv1a32(key) & HONOR_NOTIFY_ID_MAX;
}

function clickActionOf(credential: HonorCredential): Record<string, unknown> {
  const click = credential.clickAction;
  switch (click?.type) {
    case 'intent': return { type: HONOR_CLICK_INTENT, intent: click.intent };
    case 'action': return { type: HONOR_CLICK_INTENT, action: click.action };
    case 'url': return { type: HONOR_CLICK_URL, url: click.url };
    default: return { type: HONOR_CLICK_OPEN_APP };
  }
}

export function buildHonorRequest(credential: HonorCredential, target: PushTarget, message: PushMessage, nowMs: number): HonorBuildResult {
  const data: Record<string, string> = { ...message.data, pushId: message.id };
  const dataOnly = message.kind !== 'alert';
  if (dataOnly && message.badge !== undefined && data.badge === undefined) data.badge = String(message.badge);

  const android: Record<string, unknown> = {};
  // unverified: "<seconds>s" like Huawei's android.ttl.
  const ttl = ttlSeconds(message.expiresAt, nowMs);
  if (ttl !== undefined) android.ttl = `${ttl}s`;

  const channelId = channelFor(message.purpose, credential);

  const bodyWith = (text: AlertText): Record<string, unknown> => {
    const androidOut: Record<string, unknown> = { ...android };
    if (!dataOnly) {
      const notification: Record<string, unknown> = {
        title: orEllipsis(text.title),
        body: orEllipsis(text.body),
        clickAction: clickActionOf(credential),
        importance: credential.importance ?? 'NORMAL',
      };
      if (channelId !== undefined) notification.channelId = channelId;
      if (message.collapseId !== undefined) {
        notification.tag = message.collapseId;
        notification.notifyId = notifyIdFor(message.collapseId);
      }
      if (message.badge !== undefined && credential.badgeClass !== undefined) {
        // unverified: camelCase of Huawei's badge { set_num, class }.
        notification.badge = { setNum: Math.min(Math.max(0, Math.floor(message.badge)), HONOR_BADGE_MAX), badgeClass: credential.badgeClass };
      }
      if (credential.foregroundShow !== undefined) notification.foregroundShow = credential.foregroundShow;
      androidOut.notification = notification;
    }
    const body: Record<string, unknown> = { data: JSON.stringify(data) };
    if (Object.keys(androidOut).length > 0) body.android = androidOut;
    body.token = [target.token];
    return body;
  };
  const fitted = fitJsonBody(bodyWith, dataOnly ? undefined : { title: message.title, body: message.body }, HONOR_MAX_BODY_BYTES);
  if (!fitted.ok) return fitted;

  const base = (credential.endpoints?.pushUrl ?? HONOR_PUSH_URL).replace(/\/+$/, '');
  return {
    ok: true,
    request: {
      method: 'POST',
      url: `${base}${honorSendPath(credential.appId)}`,
      headers: { 'content-type': HONOR_SEND_CONTENT_TYPE, accept: 'application/json', [HONOR_TIMESTAMP_HEADER]: String(Math.floor(nowMs)) },
      body: fitted.body,
      bodyText: fitted.bodyText,
    },
    truncated: fitted.truncated,
    bytes: fitted.bytes,
  };
}
