import { parseConversation } from '../protocol/index.ts';
import type { EventLog, PushStore, StoredEvent } from '../storage/index.ts';

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

/**
 * OPS-2 "why was (not) this pushed?": every trace row for the message, grouped by recipient and
 * device. Recipients with no row at all had no active push registration when it was appended
 * (those rows are not written, to keep the hot path light), or are the sender.
 */
export async function explainMessage(
  deps: { log: Pick<EventLog, 'eventByMessageId' | 'recipientsAmong'>; store: Pick<PushStore, 'traceFor'> },
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
    const devices = [...byDevice.values()];
    if (devices.length === 0) {
      const reason = userId === event.sender ? 'own_message' : 'no_binding';
      devices.push({ deviceId: null, pushId: null, outcome: `suppressed:${reason}`, steps: [] });
    }
    recipients.push({ userId, devices });
  }
  return { messageId, eventId: event.eventId, conversation: event.conversation, sender: event.sender, at: event.at, recipients };
}
