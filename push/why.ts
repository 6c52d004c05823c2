import { parseConversation } from '../protocol/index.ts';
import type { DeviceCursors, EventLog, PushStore, StoredEvent } from '../storage/index.ts';

export interface DeviceDecision {
  deviceId: string | null;
  pushId: string | null;
  /** The final word for this device: the last trace row, or a reason derived from its absence. */
  outcome: string;
  steps: Array<{ decision: string; reason: string; detail: string | null; at: number }>;
}

export interface RecipientExplanation {
  userId: string;
  devices: DeviceDecision[];
}

export interface MessageExplanation {
  messageId: string;
  eventId: number;
  conversation: string;
  sender: string;
  at: number;
  recipients: RecipientExplanation[];
}

export interface ExplainDeps {
  log: Pick<EventLog, 'eventByMessageId' | 'recipientsAmong'>;
  store: Pick<PushStore, 'traceFor' | 'bindingsForUsers'>;
  cursors: Pick<DeviceCursors, 'ackedSeq'>;
}

/**
 * OPS-2 "why was (not) this pushed?": every trace row for the message, grouped by recipient and
 * device. Two outcomes are derived from the absence of rows, which are not written to keep the
 * hot path light: a registered device with no row that has acked the event got it over its
 * socket (`suppressed:online`); a recipient with no row and no registration had nothing to push
 * to (`suppressed:no_binding`), or is the sender.
 */
export async function explainMessage(
  deps: ExplainDeps,
  messageId: string,
  groupMembers: (groupId: string) => readonly string[] | undefined,
  onlyUser?: string,
): Promise<MessageExplanation | undefined> {
  const event: StoredEvent | undefined = await deps.log.eventByMessageId(messageId);
  if (!event) return undefined;
  const rows = await deps.store.traceFor({ eventId: event.eventId }, 10_000);
  const parsed = parseConversation(event.conversation);
  const candidates = new Set<string>(rows.map((r) => r.userId));
  if (parsed?.kind === 'peer') parsed.users.forEach((u) => candidates.add(u));
  if (parsed?.kind === 'group') (groupMembers(parsed.groupId) ?? []).forEach((u) => candidates.add(u));
  if (onlyUser) for (const u of [...candidates]) if (u !== onlyUser) candidates.delete(u);
  const inInbox = await deps.log.recipientsAmong(event, [...candidates]);
  const bindings = await deps.store.bindingsForUsers([...inInbox.keys()]);
  const recipients: RecipientExplanation[] = [];
  for (const userId of [...inInbox.keys()].sort()) {
    const mine = rows.filter((r) => r.userId === userId && r.deviceId !== null);
    const byDevice = new Map<string, DeviceDecision>();
    for (const r of mine) {
      const key = r.deviceId!;
      const entry = byDevice.get(key) ?? { deviceId: r.deviceId, pushId: r.pushId, outcome: '', steps: [] };
      entry.steps.push({ decision: r.decision, reason: r.reason, detail: r.detail, at: r.at });
      entry.outcome = `${r.decision}:${r.reason}`;
      byDevice.set(key, entry);
    }
    for (const b of bindings) {
      if (b.userId !== userId || byDevice.has(b.deviceId)) continue;
      if (userId === event.sender) {
        // The sender's own devices get their message over the socket, never as a push.
        byDevice.set(b.deviceId, { deviceId: b.deviceId, pushId: b.pushId, outcome: 'suppressed:own_message', steps: [] });
        continue;
      }
      const acked = (await deps.cursors.ackedSeq(userId, b.deviceId)) >= inInbox.get(userId)!;
      byDevice.set(b.deviceId, {
        deviceId: b.deviceId, pushId: b.pushId, outcome: acked ? 'suppressed:online' : 'none:not_acked',
        steps: [{ decision: 'derived', reason: acked ? 'acked over the socket, no push wanted' : 'no job and not acked yet: on its socket now, or offline without replay', detail: null, at: event.at }],
      });
    }
    const devices = [...byDevice.values()];
    if (devices.length === 0) {
      const reason = userId === event.sender ? 'own_message' : 'no_binding';
      devices.push({ deviceId: null, pushId: null, outcome: `suppressed:${reason}`, steps: [] });
    }
    recipients.push({ userId, devices });
  }
  return { messageId, eventId: event.eventId, conversation: event.conversation, sender: event.sender, at: event.at, recipients };
}
