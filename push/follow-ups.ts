import { parseConversation, type DeliveredEvent } from '../protocol/index.ts';
import type { AppendResult, PushBinding, PushJob, PushJobKind } from '../storage/index.ts';
import { deviceKey, groupBy } from './grouping.ts';
import type { PushDeps } from './options.ts';

type ReadBody = Extract<DeliveredEvent, { kind: 'read' }>;
type CallStateBody = Extract<DeliveredEvent, { kind: 'call_state' }>;

/** A silent push owed to one offline device because of something that happened elsewhere. */
export interface FollowUp {
  kind: Extract<PushJobKind, 'badge_update' | 'call_over'>;
  userId: string;
  deviceId: string;
  /** The device's registrations, for carrier choice. */
  bindings: PushBinding[];
  event: AppendResult['event'];
  seq: number;
}

/** Events that may owe silent pushes to devices that were pushed before: reads and call transitions. */
export function hasFollowUps(result: AppendResult): boolean {
  return result.event.kind === 'read' || result.event.kind === 'call_state';
}

/**
 * A device was rung through a push when one of its ring jobs was delivered or is at the vendor
 * (`sending`: it may reach the device). Checked when a call-over is queued and again when it is sent.
 */
export function wasRungThrough(history: readonly PushJob[]): boolean {
  return history.some((j) => j.kind === 'call_ring' && (j.state === 'delivered' || j.state === 'sending'));
}

const newest = (jobs: readonly PushJob[], kinds: readonly PushJobKind[], keep: (job: PushJob) => boolean) =>
  jobs.filter((j) => kinds.includes(j.kind) && keep(j)).reduce((max, j) => Math.max(max, j.eventId), 0);

/**
 * Which offline devices these committed events owe a follow-up push:
 * - a read on one device: the reader's other devices that were pushed for that conversation since
 *   their last badge update get a badge update (the new exact badge, and the conversation to clear
 *   from the lock screen), when the user keeps badges in sync (on by default);
 * - a call transition that ends the ringing for an invitee (answered here or elsewhere, rejected,
 *   cancelled, timed out, ended): that invitee's devices that were rung through a push get a
 *   call-over push, once. Devices that were never rung get nothing.
 * Never the device that acted, never an online device.
 */
export async function followUpsOf(results: readonly AppendResult[], deps: Pick<PushDeps, 'store' | 'presence' | 'settings'>): Promise<FollowUp[]> {
  const wanted: Array<{ kind: FollowUp['kind']; userId: string; exceptDevice?: string; result: AppendResult; conversation: string }> = [];
  for (const result of results) {
    const body = JSON.parse(result.event.json) as ReadBody | CallStateBody;
    if (body.kind === 'read') {
      wanted.push({ kind: 'badge_update', userId: result.event.sender, ...(body.byDevice !== undefined ? { exceptDevice: body.byDevice } : {}), result, conversation: result.event.conversation });
    } else if (body.kind === 'call_state') {
      for (const [invitee, state] of Object.entries(body.invitees)) {
        if (state !== 'ringing' && result.seqs.has(invitee)) wanted.push({ kind: 'call_over', userId: invitee, ...(invitee === body.from && body.byDevice ? { exceptDevice: body.byDevice } : {}), result, conversation: result.event.conversation });
      }
    }
  }
  if (wanted.length === 0) return [];
  const users = [...new Set(wanted.map((w) => w.userId))];
  const bindings = await deps.store.bindingsForUsers(users);
  const online = await deps.presence.onlineAmong(bindings);
  const byUser = groupBy(bindings, (b) => b.userId);
  const syncs = new Map<string, boolean>();
  // One follow-up per (kind, device, conversation) for the whole batch: two call transitions or
  // two reads committed together are one call-over or one badge update, carrying the later state.
  const out = new Map<string, FollowUp>();
  for (const w of wanted) {
    const mine = (byUser.get(w.userId) ?? []).filter((b) => b.deviceId !== w.exceptDevice && !online.has(deviceKey(b.userId, b.deviceId)));
    if (mine.length === 0) continue;
    if (w.kind === 'badge_update') {
      if (!syncs.has(w.userId)) syncs.set(w.userId, (await deps.settings.get(w.userId)).syncBadges);
      if (!syncs.get(w.userId)) continue;
    }
    const jobs = groupBy(await deps.store.jobsIn(w.conversation, mine.map((b) => b.pushId)), (j) => j.deviceId);
    for (const [deviceId, deviceBindings] of groupBy(mine, (b) => b.deviceId)) {
      const history = jobs.get(deviceId) ?? [];
      const owed = w.kind === 'badge_update'
        // Pushed for this conversation since its last badge update (a notification may be on its lock screen).
        ? newest(history, ['message'], (j) => j.state === 'delivered') > newest(history, ['badge_update'], (j) => j.state !== 'cancelled' || j.lastReason === 'collapsed')
        // Rung through a push, and not told yet that the ringing is over.
        : wasRungThrough(history) && !history.some((j) => j.kind === 'call_over');
      if (owed) {
        out.set(`${w.kind}\u0000${w.userId}\u0000${deviceId}\u0000${w.conversation}`, {
          kind: w.kind, userId: w.userId, deviceId, bindings: deviceBindings, event: w.result.event, seq: w.result.seqs.get(w.userId) ?? 0,
        });
      }
    }
  }
  return [...out.values()];
}

/** The call of a call event's conversation. */
export function callIdOf(conversation: string): string | undefined {
  const parsed = parseConversation(conversation);
  return parsed?.kind === 'call' ? parsed.callId : undefined;
}
