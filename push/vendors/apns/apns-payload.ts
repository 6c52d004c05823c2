// Pure translation PushTarget + PushMessage -> APNs request (headers + JSON).
// Kept free of node-apn so the sandbox provider records exactly what the real
// provider would send, and so size fitting can be unit-tested.

import type { PushMessage, PushTarget } from '../contract.ts';
import { fitAlertText, jsonBytes, type AlertText } from '../text-fit.ts';

export const APNS_MAX_PAYLOAD_BYTES = 4096;
/** The registration kind of a PushKit (VoIP) token. */
export const APNS_VOIP = 'apns-voip';
/** Apple device tokens are hex (32 bytes today; longer ones are allowed): the one rule, for registration and sending. */
export const APNS_TOKEN_PATTERN = '^[0-9a-fA-F]{32,200}$';
export const APNS_VOIP_MAX_PAYLOAD_BYTES = 5120;

export type ApnsPushType = 'alert' | 'voip' | 'background';

export interface ApnsRequest {
  pushType: ApnsPushType;
  priority: 5 | 10;
  topic: string;
  /** Lower-case APNs headers exactly as they go on the wire. */
  headers: Record<string, string>;
  payload: Record<string, unknown>;
  bytes: number;
  truncated: boolean;
}

export type ApnsBuildResult =
  | { ok: true; request: ApnsRequest }
  | { ok: false; reason: 'payload_too_large'; bytes: number; limit: number };

export function apnsPushType(target: PushTarget, message: PushMessage): ApnsPushType {
  // A VoIP token only accepts voip pushes (and a voip push needs the .voip topic),
  // so the registered token kind wins over the message kind.
  if (target.registration === APNS_VOIP || message.kind === 'voip') return 'voip';
  // A badge update must set the badge, which Apple does not allow in a background push: it goes
  // as an alert push with no alert and no sound (badge + content-available), at low priority.
  if (message.purpose === 'badge_update') return 'alert';
  return message.kind === 'background' ? 'background' : 'alert';
}

export function apnsTopic(baseTopic: string, pushType: ApnsPushType): string {
  if (pushType !== 'voip' || baseTopic.endsWith('.voip')) return baseTopic;
  return `${baseTopic}.voip`;
}

function buildPayload(message: PushMessage, pushType: ApnsPushType, text: AlertText): Record<string, unknown> {
  const aps: Record<string, unknown> = {};
  if (pushType === 'background') {
    // Apple requires background pushes to carry no alert/sound/badge.
    aps['content-available'] = 1;
  } else if (message.purpose === 'badge_update') {
    // Silent: the badge only, and a wake-up for the app to remove the read conversations' notifications.
    if (message.badge !== undefined) aps.badge = message.badge;
    aps['content-available'] = 1;
  } else {
    const alert: Record<string, string> = {};
    if (text.title !== undefined && text.title !== '') alert.title = text.title;
    if (text.body !== undefined && text.body !== '') alert.body = text.body;
    if (Object.keys(alert).length > 0) aps.alert = alert;
    if (message.badge !== undefined) aps.badge = message.badge;
    if (message.sound !== undefined) aps.sound = message.sound;
    if (message.mutableContent) aps['mutable-content'] = 1;
  }
  const payload: Record<string, unknown> = { aps };
  for (const [key, value] of Object.entries(message.data)) {
    if (key === 'aps') continue; // reserved by Apple; custom data must not clobber it
    payload[key] = value;
  }
  return payload;
}

export function buildApnsRequest(target: PushTarget, message: PushMessage, defaultTopic: string): ApnsBuildResult {
  const pushType = apnsPushType(target, message);
  const topic = apnsTopic(target.options.topic ?? defaultTopic, pushType);
  // Background pushes must use priority 5; VoIP must be immediate.
  const priority: 5 | 10 =
    pushType === 'background' || message.purpose === 'badge_update' ? 5 : pushType === 'voip' ? 10 : message.priority === 'high' ? 10 : 5;
  const limit = pushType === 'voip' ? APNS_VOIP_MAX_PAYLOAD_BYTES : APNS_MAX_PAYLOAD_BYTES;

  const fitted = fitAlertText(
    { title: message.title, body: message.body },
    (t) => jsonBytes(buildPayload(message, pushType, t)),
    limit,
  );
  if (!fitted) {
    return { ok: false, reason: 'payload_too_large', bytes: jsonBytes(buildPayload(message, pushType, {})), limit };
  }
  const payload = buildPayload(message, pushType, fitted.text);

  const headers: Record<string, string> = {
    'apns-push-type': pushType,
    'apns-priority': String(priority),
    'apns-topic': topic,
    'apns-id': message.id,
  };
  if (message.expiresAt !== undefined) headers['apns-expiration'] = String(Math.max(0, Math.floor(message.expiresAt)));
  if (message.collapseId !== undefined) headers['apns-collapse-id'] = message.collapseId;

  return {
    ok: true,
    request: { pushType, priority, topic, headers, payload, bytes: jsonBytes(payload), truncated: fitted.truncated },
  };
}
