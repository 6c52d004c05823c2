import type { EventDraft, WriteItem } from './contract.ts';
import type { ProjectedEvent } from './domain/projector.ts';

/**
 * What a backend writes for a projected event (its id and seqs are assigned there). `draft` rides
 * along for a backend that re-projects on shared state (LogBackend.reprojects).
 */
export function toWriteItem(projected: ProjectedEvent, draft?: EventDraft): WriteItem {
  return {
    ...(draft ? { draft } : {}),
    event: {
      kind: projected.kind, conversation: projected.conversation, sender: projected.sender, clientMsgId: projected.clientMsgId,
      messageId: projected.messageId, at: projected.at, body: projected.body,
    },
    recipients: projected.recipients.map((r) => r.user),
    countable: projected.recipients.map((r) => (r.countable ? 1 : 0)),
    ...(projected.readCursor ? { readCursor: projected.readCursor } : {}),
    ...(projected.groupChange ? { groupChange: projected.groupChange } : {}),
    ...(projected.callChange ? { callChange: projected.callChange } : {}),
  };
}
