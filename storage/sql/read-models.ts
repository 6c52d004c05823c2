import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { CallRecord, ConversationUnread, GroupInfo, ReadModels } from '../contract.ts';
import { roleOf } from '../domain/group-rules.ts';
import type { ProjectionState } from '../domain/projector.ts';
import { callFromRow } from './log-reads.ts';
import { chunk, type SqlDialect } from './dialect.ts';

/**
 * Read models over the shared schema. Group membership and calls that are not over come from the
 * planner's state (`projection()`), which every append already consults, so sends check
 * membership without I/O.
 */
export class SqlReadModels implements ReadModels {
  readonly #db: Kysely<Database>;
  readonly #dialect: SqlDialect;
  readonly #projection: () => ProjectionState;

  constructor(db: Kysely<Database>, dialect: SqlDialect, projection: () => ProjectionState) {
    this.#db = db;
    this.#dialect = dialect;
    this.#projection = projection;
  }

  isGroup(groupId: string): boolean {
    const group = this.#projection().groups.get(groupId);
    return group !== undefined && !group.dissolved;
  }

  group(groupId: string): GroupInfo | undefined {
    const group = this.#projection().groups.get(groupId);
    if (!group || group.dissolved) return undefined;
    const members = [...group.members].sort();
    return {
      name: group.name, owner: group.owner, joinPolicy: group.joinPolicy, members,
      roles: Object.fromEntries(members.map((m) => [m, roleOf(group, m)!])), requests: [...group.requests].sort(),
    };
  }

  groupName(groupId: string): string | undefined {
    return this.#projection().groups.get(groupId)?.name;
  }

  groupMembers(groupId: string): readonly string[] | undefined {
    return this.group(groupId)?.members;
  }

  isMember(groupId: string, userId: string): boolean {
    return this.#projection().groups.get(groupId)?.members.has(userId) ?? false;
  }

  activeCall(callId: string): CallRecord | undefined {
    return this.#projection().calls.get(callId);
  }

  async ringingCalls(): Promise<CallRecord[]> {
    return [...this.#projection().calls.values()].filter((c) => Object.values(c.invitees).includes('ringing'));
  }

  async readCursor(userId: string, conversation: string): Promise<number> {
    const row = await this.#db.selectFrom('conversation_state').select('read_event_id')
      .where('user_id', '=', userId).where('conversation', '=', conversation).executeTakeFirst();
    return Number(row?.read_event_id ?? 0);
  }

  async unread(userId: string): Promise<ConversationUnread[]> {
    const rows = await this.#db.selectFrom('conversation_state').selectAll()
      .where('user_id', '=', userId).where('unread', '>', 0).orderBy('conversation').execute();
    return rows.map((r) => ({ conversation: r.conversation, unread: Number(r.unread), readEventId: Number(r.read_event_id), lastEventId: Number(r.last_event_id) }));
  }

  async totalUnread(userId: string): Promise<number> {
    const row = await this.#db.selectFrom('conversation_state').select((eb) => eb.fn.sum<number>('unread').as('total'))
      .where('user_id', '=', userId).executeTakeFirst();
    return Number(row?.total ?? 0);
  }

  async callsByIds(callIds: readonly string[]): Promise<Map<string, CallRecord>> {
    const out = new Map<string, CallRecord>();
    for (const part of chunk([...new Set(callIds)], 1, this.#dialect.maxParams)) {
      for (const row of await this.#db.selectFrom('calls').selectAll().where('call_id', 'in', part).execute()) {
        out.set(row.call_id, callFromRow(row));
      }
    }
    return out;
  }
}
