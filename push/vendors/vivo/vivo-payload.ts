/**
 * Pure translation PushTarget + PushMessage → the body of vivo's `/message/send` (PAY-3),
 * shared by the provider and preview(). No I/O, no clock of its own.
 */
import { createHash } from 'node:crypto';
import { fitText } from '../text-fit.ts';
import type { PushMessage, PushTarget } from '../contract.ts';
import {
  VIVO_CATEGORY_IM, VIVO_CLASSIFICATION_SYSTEM, VIVO_LIMITS, VIVO_NETWORK_ANY, VIVO_NOTIFY_TYPE, VIVO_SKIP_TYPE,
} from './vivo-facts.ts';

/** What the body needs from the credential. */
export interface VivoPayloadOptions {
  /** A number on the wire; preview() shows a placeholder string. */
  appId: number | string;
  pushMode: number;
  skipContent?: string | undefined;
}

export interface VivoSendBody {
  // [impl] v2.9.2 doc copy: every body carries the appId, compared with the token's app (10094).
  appId: number | string;
  regId: string;
  notifyType: number;
  title: string;
  content: string;
  timeToLive?: number;
  skipType: number;
  skipContent?: string;
  networkType: number;
  clientCustomMap?: Record<string, string>;
  requestId: string;
  classification: number;
  category: string;
  pushMode: number;
}

export type VivoBuildResult =
  | { ok: true; body: VivoSendBody; truncated: boolean }
  | { ok: false; reason: 'payload_too_large'; detail: string }
  // vivo's send API only shows notifications; it has no silent (data-only) push.
  | { ok: false; reason: 'not_supported'; detail: string };

/** vivo's length: a Chinese character counts as two English ones; we count every non-ASCII code point as 2. */
export function vivoTextUnits(text: string): number {
  let units = 0;
  for (const ch of text) units += ch.codePointAt(0)! < 0x80 ? 1 : 2;
  return units;
}

/** Our idempotency key as requestId: the same push, retried, carries the same one. */
export function vivoRequestId(pushId: string): string {
  return pushId.length <= VIVO_LIMITS.requestIdChars ? pushId : createHash('sha256').update(pushId).digest('hex');
}

export function buildVivoSend(target: PushTarget, message: PushMessage, options: VivoPayloadOptions, nowMs: number): VivoBuildResult {
  if (message.kind === 'background') return { ok: false, reason: 'not_supported', detail: 'vivo has no silent push for a background push' };

  const pairs = Object.keys(message.data).length;
  if (pairs > VIVO_LIMITS.customMapPairs) return { ok: false, reason: 'payload_too_large', detail: `data has ${pairs} keys, vivo takes ${VIVO_LIMITS.customMapPairs}` };
  const customChars = JSON.stringify(message.data).length;
  if (customChars > VIVO_LIMITS.customMapChars) return { ok: false, reason: 'payload_too_large', detail: `data is ${customChars} characters, vivo takes ${VIVO_LIMITS.customMapChars}` };

  // Both fields are required by vivo; a push with only one of them shows it twice rather than not at all.
  const title = fitText(message.title || message.body || '', VIVO_LIMITS.titleUnits, vivoTextUnits);
  const content = fitText(message.body || message.title || '', VIVO_LIMITS.contentUnits, vivoTextUnits);

  const body: VivoSendBody = {
    appId: options.appId,
    regId: target.token,
    notifyType: VIVO_NOTIFY_TYPE.ringAndVibrate,
    title: title.text,
    content: content.text,
    skipType: options.skipContent !== undefined ? VIVO_SKIP_TYPE.appPage : VIVO_SKIP_TYPE.home,
    networkType: VIVO_NETWORK_ANY,
    requestId: vivoRequestId(message.id),
    // IM messages, call rings and missed calls are all system messages of category IM (see vivo-facts.ts).
    classification: VIVO_CLASSIFICATION_SYSTEM,
    category: VIVO_CATEGORY_IM,
    pushMode: options.pushMode,
  };
  if (options.skipContent !== undefined) body.skipContent = options.skipContent;
  if (pairs > 0) body.clientCustomMap = { ...message.data };
  if (message.expiresAt !== undefined) {
    const ttl = Math.floor(message.expiresAt - nowMs / 1000);
    body.timeToLive = Math.min(VIVO_LIMITS.ttlMaxSec, Math.max(VIVO_LIMITS.ttlMinSec, ttl));
  }
  return { ok: true, body, truncated: title.truncated || content.truncated };
}
