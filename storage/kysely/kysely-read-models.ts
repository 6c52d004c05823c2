import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { CallRecord, ConversationUnread, ReadModels } from '../types.ts';
import { callFromRow } from './load-state.ts';
import type { KyselyEventLog } from './kysely-event-log.ts';

export class KyselyReadModels implements ReadModels {
  readonly #db: Kysely<Database>;
  readonly #log: KyselyEventLog;

  constructor(db: Kysely<Database>, log: KyselyEventLog) {
    this.#db = db;
    this.#log = log;
  }

  isGroup(groupId: string): boolean {
    return this.#log.projection.groups.has(groupId);
  }

  groupName(groupId: string): string | undefined {
    return this.#log.projection.groups.get(groupId)?.name;
  }

  groupMembers(groupId: string): readonly string[] | undefined {
    const group = this.#log.projection.groups.get(groupId);
    return group ? [...group.members].sort() : undefined;
  }

  isMember(groupId: string, userId: string): boolean {
    return this.#log.projection.groups.get(groupId)?.members.has(userId) ?? false;
  }

  async readCursor(userId: string, conversation: string): Promise<number> {
    const row = await this.#db.selectFrom('conversation_state').select('read_event_id')
      .where('user_id', '=', userId).where('conversation', '=', conversation).executeTakeFirst();
    return row?.read_event_id ?? 0;
  }

  async unread(userId: string): Promise<ConversationUnread[]> {
    const rows = await this.#db.selectFrom('conversation_state').selectAll()
      .where('user_id', '=', userId).where('unread', '>', 0).orderBy('conversation').execute();
    return rows.map((r) => ({ conversation: r.conversation, unread: r.unread, readEventId: r.read_event_id, lastEventId: r.last_event_id }));
  }

  async totalUnread(userId: string): Promise<number> {
    const row = await this.#db.selectFrom('conversation_state').select((eb) => eb.fn.sum<number>('unread').as('total'))
      .where('user_id', '=', userId).executeTakeFirst();
    return Number(row?.total ?? 0);
  }

  async callsByIds(callIds: readonly string[]): Promise<Map<string, CallRecord>> {
    const out = new Map<string, CallRecord>();
    const unique = [...new Set(callIds)];
    for (let i = 0; i < unique.length; i += 500) {
      for (const row of await this.#db.selectFrom('calls').selectAll().where('call_id', 'in', unique.slice(i, i + 500)).execute()) {
        out.set(row.call_id, callFromRow(row));
      }
    }
    return out;
  }

  /** A call that is not over yet, from the writer's memory (no I/O). */
  activeCall(callId: string): CallRecord | undefined {
    return this.#log.projection.calls.get(callId);
  }

  async ringingCalls(): Promise<CallRecord[]> {
    return [...this.#log.projection.calls.values()].filter((c) => Object.values(c.invitees).includes('ringing'));
  }

  async ackedSeq(userId: string, deviceId: string): Promise<number> {
    const row = await this.#db.selectFrom('device_cursors').select('acked_seq')
      .where('user_id', '=', userId).where('device_id', '=', deviceId).executeTakeFirst();
    return Math.max(row?.acked_seq ?? 0, this.#log.unsavedCursor(userId, deviceId) ?? 0);
  }

  async saveAckedSeq(userId: string, deviceId: string, seq: number): Promise<void> {
    this.#log.saveCursor(userId, deviceId, seq);
  }
}
