// Pure translation (credential, PushTarget, PushMessage, now) -> the exact MiPush regid request:
// a form body (application/x-www-form-urlencoded). The provider sends it; preview() shows it.
// Only `Authorization: key=<AppSecret>` is added at send time.

import type { PushMessage, PushTarget } from '../contract.ts';
import { channelFor, fnv1a32, ttlSeconds } from '../notification-fields.ts';
import { ELLIPSIS, fitText, orEllipsis } from '../text-fit.ts';
import type { XiaomiCredential } from './xiaomi-credential.ts';
import {
  XIAOMI_CONTENT_TYPE,
  XIAOMI_DESCRIPTION_MAX,
  XIAOMI_EFFECT,
  XIAOMI_NOTIFY_ID_MAX,
  XIAOMI_NOTIFY_TYPE_ALL,
  XIAOMI_REGION_URLS,
  XIAOMI_RESERVED_EXTRA,
  XIAOMI_SEND_PATH,
  XIAOMI_TITLE_MAX,
} from './xiaomi-facts.ts';

export interface XiaomiRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  /** The form fields in wire order (what preview shows) and the encoded body sent. */
  fields: Record<string, string>;
  bodyText: string;
}

export interface XiaomiBuildResult {
  ok: true;
  request: XiaomiRequest;
  truncated: boolean;
}

/** A stable non-negative int from a string: same collapse id, same notify_id. */
export function notifyIdFor(key: string): number {
  return fnv1a32(key) & XIAOMI_NOTIFY_ID_MAX;
}

/** Cut to at most `max` UTF-16 code units on a grapheme boundary, ending in "…" when cut. */
function fitChars(text: string | undefined, max: number): { text: string; truncated: boolean } {
  const fitted = fitText(orEllipsis(text), max, (t) => t.length);
  return fitted.text !== '' ? fitted : { text: ELLIPSIS, truncated: true };
}

export function buildXiaomiRequest(credential: XiaomiCredential, target: PushTarget, message: PushMessage, nowMs: number): XiaomiBuildResult {
  const data: Record<string, string> = { ...message.data, pushId: message.id };
  const passThrough = message.kind !== 'alert';
  if (passThrough && message.badge !== undefined && data.badge === undefined) data.badge = String(message.badge);

  const fields: Record<string, string> = {
    registration_id: target.token,
    restricted_package_name: credential.packageName,
    pass_through: passThrough ? '1' : '0',
    // Form encoding URL-encodes it once, as the MiPush SDKs do.
    payload: JSON.stringify(data),
  };
  let truncated = false;
  if (!passThrough) {
    const title = fitChars(message.title, XIAOMI_TITLE_MAX);
    const description = fitChars(message.body, XIAOMI_DESCRIPTION_MAX);
    truncated = title.truncated || description.truncated;
    fields.title = title.text;
    fields.description = description.text;
    fields.notify_type = String(credential.notifyType ?? XIAOMI_NOTIFY_TYPE_ALL);
    // Without a notify_id MiPush shows one notification per app: each push replaces the last.
    // The collapse id groups a conversation (PAY-4); otherwise every push gets its own entry.
    fields.notify_id = String(notifyIdFor(message.collapseId ?? message.id));
  }
  const ttl = ttlSeconds(message.expiresAt, nowMs);
  if (ttl !== undefined) fields.time_to_live = String(ttl * 1000);
  if (!passThrough) {
    fields['extra.notify_foreground'] = credential.notifyForeground === false ? '0' : '1';
    const channelId = channelFor(message.purpose, credential);
    if (channelId !== undefined) fields['extra.channel_id'] = channelId;
    const click = credential.clickAction;
    if (click?.type === 'intent') {
      fields['extra.notify_effect'] = XIAOMI_EFFECT.intent;
      fields['extra.intent_uri'] = click.intent;
    } else if (click?.type === 'url') {
      fields['extra.notify_effect'] = XIAOMI_EFFECT.web;
      fields['extra.web_uri'] = click.url;
    } else {
      fields['extra.notify_effect'] = XIAOMI_EFFECT.launcher;
    }
  }
  // Click-through keys also as extras, readable from MiPushMessage.getExtra() (PAY-1).
  for (const [key, value] of Object.entries(data)) {
    if (!XIAOMI_RESERVED_EXTRA.has(key) && /^[A-Za-z0-9_.-]{1,64}$/.test(key)) fields[`extra.${key}`] = value;
  }

  const base = (credential.endpoints?.pushUrl ?? XIAOMI_REGION_URLS[credential.region ?? 'cn']).replace(/\/+$/, '');
  return {
    ok: true,
    request: {
      method: 'POST',
      url: `${base}${XIAOMI_SEND_PATH}`,
      headers: { 'content-type': XIAOMI_CONTENT_TYPE, accept: 'application/json' },
      fields,
      bodyText: new URLSearchParams(fields).toString(),
    },
    truncated,
  };
}
