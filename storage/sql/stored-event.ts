import type { Database } from './schema.ts';
import type { StoredEvent } from '../contract.ts';

/** An `events` row as the storage contract returns it. */
export function rowToStored(row: Omit<Database['events'], 'conv_ord'>): StoredEvent {
  return {
    eventId: Number(row.id), kind: row.kind as StoredEvent['kind'], conversation: row.conversation, sender: row.sender,
    at: Number(row.at), clientMsgId: row.client_msg_id, messageId: row.message_id, json: row.json,
  };
}
