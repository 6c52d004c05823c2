// Notification fields that Huawei, Honor and Xiaomi fill the same way from a PushMessage; the
// field names, ranges and units they go into stay in each vendor's payload and facts.

import type { PushPurpose } from './contract.ts';

/**
 * A stable 32-bit hash of a string (FNV-1a), so the same collapse id always gives the same
 * notification id and replaces the earlier notification. Each vendor masks it to its own range.
 */
export function fnv1a32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Whole seconds left until `expiresAt` (Unix seconds); at least 1, as a TTL in the past is refused. */
export function ttlSeconds(expiresAt: number | undefined, nowMs: number): number | undefined {
  if (expiresAt === undefined) return undefined;
  return Math.max(1, Math.floor(expiresAt) - Math.floor(nowMs / 1000));
}

/** Call rings and call-over pushes go on the call channel when one is configured. */
export function channelFor(purpose: PushPurpose, channels: { channelId?: string | undefined; callChannelId?: string | undefined }): string | undefined {
  const isCall = purpose === 'call_ring' || purpose === 'call_over';
  return isCall ? channels.callChannelId ?? channels.channelId : channels.channelId;
}
