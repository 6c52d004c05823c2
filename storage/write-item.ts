import type { EventDraft, WriteItem } from './contract.ts';
import type { ProjectedEvent } from './domain/projector.ts';

/**
 * What a backend writes for a projected event (its id and seqs are assigned there). `draft` rides
 * along for a backend that re-projects on shared state (LogBackend.reprojects).
 */
export function toWriteItem(projected: ProjectedEvent, draft?: EventDraft): WriteItem {
  // Built field by field, not by spreading: this runs once per appended event, and the item is
  // copied to the writer thread, where absent keys cost nothing and `undefined` ones do.
  const recipients = new Array<string>(projected.recipients.length);
  const countable = new Array<number>(projected.recipients.length);
  for (let i = 0; i < recipients.length; i++) {
    const r = projected.recipients[i]!;
    recipients[i] = r.user;
    countable[i] = r.countable ? 1 : 0;
  }
  const item: WriteItem = {
    event: {
      kind: projected.kind, conversation: projected.conversation, sender: projected.sender, clientMsgId: projected.clientMsgId,
      messageId: projected.messageId, at: projected.at, body: projected.body,
    },
    recipients,
    countable,
  };
  if (draft) item.draft = draft;
  if (projected.readCursor) item.readCursor = projected.readCursor;
  if (projected.groupChange) item.groupChange = projected.groupChange;
  if (projected.callChange) item.callChange = projected.callChange;
  return item;
}
