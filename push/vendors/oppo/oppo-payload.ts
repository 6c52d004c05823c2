/**
 * Pure translation PushTarget + PushMessage → the OPPO unicast `message` (PAY-3), shared by the
 * provider and preview() so the sandbox shows what OPPO would get. No I/O, no clock of its own.
 */
import { createHash } from 'node:crypto';
import { fitText } from '../text-fit.ts';
import type { PushMessage, PushTarget } from '../contract.ts';
import {
  OPPO_CLICK_LAUNCH_APP, OPPO_CLICK_OPEN_ACTIVITY, OPPO_LIMITS, OPPO_STYLE_STANDARD, OPPO_TARGET_REGISTRATION_ID,
} from './oppo-facts.ts';

/** What the payload needs from the credential. */
export interface OppoPayloadOptions {
  channelId: string;
  clickActivity?: string | undefined;
}

export interface OppoNotification {
  app_message_id: string;
  style: number;
  title: string;
  content: string;
  channel_id: string;
  click_action_type: number;
  click_action_activity?: string;
  action_parameters?: string;
  off_line: boolean;
  off_line_ttl?: number;
  notify_id?: number;
}

export interface OppoMessage {
  target_type: number;
  target_value: string;
  notification: OppoNotification;
}

export type OppoBuildResult =
  | { ok: true; message: OppoMessage; truncated: boolean }
  | { ok: false; reason: 'payload_too_large'; chars: number; limit: number }
  // OPPO's unicast API only shows notifications; it has no silent (data-only) push.
  | { ok: false; reason: 'not_supported'; detail: string };

/** OPPO counts characters, not bytes; UTF-16 units never count fewer than it does. */
const chars = (text: string): number => text.length;

/** A stable positive 31-bit integer for a collapse id: the same id always replaces the same notification. */
export function oppoNotifyId(collapseId: string): number {
  const n = createHash('sha256').update(collapseId).digest().readUInt32BE(0) & OPPO_LIMITS.notifyIdMax;
  return n === 0 ? 1 : n;
}

/** Our idempotency key as app_message_id ([impl] MZ: OPPO pushes one app_message_id only once per unicast). */
export function oppoAppMessageId(pushId: string): string {
  return pushId.length <= OPPO_LIMITS.appMessageIdChars ? pushId : createHash('sha256').update(pushId).digest('hex').slice(0, OPPO_LIMITS.appMessageIdChars);
}

export function buildOppoMessage(target: PushTarget, message: PushMessage, options: OppoPayloadOptions, nowMs: number): OppoBuildResult {
  if (message.kind === 'background') return { ok: false, reason: 'not_supported', detail: 'oppo has no silent push for a background push' };

  // [impl] MZ: action_parameters is handed to the app on tap; its JSON must stay within the limit.
  const hasData = Object.keys(message.data).length > 0;
  const actionParameters = hasData ? JSON.stringify(message.data) : undefined;
  if (actionParameters !== undefined && chars(actionParameters) > OPPO_LIMITS.actionParametersChars) {
    return { ok: false, reason: 'payload_too_large', chars: chars(actionParameters), limit: OPPO_LIMITS.actionParametersChars };
  }

  // Both fields are required by OPPO; a push with only one of them shows it twice rather than not at all.
  const title = fitText(message.title || message.body || '', OPPO_LIMITS.titleChars, chars);
  const content = fitText(message.body || message.title || '', OPPO_LIMITS.contentChars, chars);

  const notification: OppoNotification = {
    app_message_id: oppoAppMessageId(message.id),
    style: OPPO_STYLE_STANDARD,
    title: title.text,
    content: content.text,
    channel_id: options.channelId,
    click_action_type: options.clickActivity !== undefined ? OPPO_CLICK_OPEN_ACTIVITY : OPPO_CLICK_LAUNCH_APP,
    off_line: true,
  };
  if (options.clickActivity !== undefined) notification.click_action_activity = options.clickActivity;
  // unverified: whether action_parameters reach the app with click_action_type 0 (MZ documents them for 1/4).
  if (actionParameters !== undefined) notification.action_parameters = actionParameters;
  if (message.expiresAt !== undefined) {
    const ttl = Math.floor(message.expiresAt - nowMs / 1000);
    notification.off_line_ttl = Math.min(OPPO_LIMITS.offLineTtlMaxSec, Math.max(OPPO_LIMITS.offLineTtlMinSec, ttl));
  }
  if (message.collapseId !== undefined) notification.notify_id = oppoNotifyId(message.collapseId);

  return {
    ok: true,
    message: { target_type: OPPO_TARGET_REGISTRATION_ID, target_value: target.token, notification },
    truncated: title.truncated || content.truncated,
  };
}

/** The form body of the unicast call: the token and the message as a JSON string. */
export function oppoUnicastForm(authToken: string, message: OppoMessage): string {
  return new URLSearchParams({ auth_token: authToken, message: JSON.stringify(message) }).toString();
}
