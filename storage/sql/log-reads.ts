import type { Kysely, Transaction } from 'kysely';
import type { JoinPolicy } from '../../protocol/index.ts';
import type { Database } from './schema.ts';
import type { ProjectionState } from '../domain/projector.ts';
import type { AppendResult, CallRecord, InboxEntry, LogBackend, StoredEvent } from '../contract.ts';
import { chunk, type SqlDialect } from './dialect.ts';
import { firstEntryAfter } from './inbox-by-event.ts';
import { compactHeadsIn, readCompactInbox, readCompactInboxInOneStatement } from './compact-inbox.ts';
import { rowToStored } from './stored-event.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** Users whose inbox recipientsAmong searches between two turns of the event loop (no index by event). */
const RECIPIENTS_PER_TURN = 50;

export function callFromRow(row: Database['calls']): CallRecord {
  return {
    callId: row.call_id, inviter: row.inviter, state: row.state as CallRecord['state'],
    invitees: JSON.parse(row.invitees) as CallRecord['invitees'], deadline: Number(row.deadline),
  };
}

/** Group membership and live calls, as planning holds them in memory; loaded from the read models. */
export async function loadProjectionState(db: Db): Promise<ProjectionState> {
  const state: ProjectionState = { groups: new Map(), calls: new Map() };
  for (const row of await db.selectFrom('groups').select(['group_id', 'name', 'owner', 'join_policy', 'dissolved_event_id']).execute()) {
    state.groups.set(row.group_id, {
      name: row.name, owner: row.owner ?? undefined, joinPolicy: row.join_policy as JoinPolicy,
      members: new Set(), admins: new Set(), requests: new Set(), dissolved: row.dissolved_event_id !== null,
    });
  }
  for (const row of await db.selectFrom('group_members').select(['group_id', 'user_id', 'role']).execute()) {
    const group = state.groups.get(row.group_id);
    group?.members.add(row.user_id);
    if (row.role === 'admin') group?.admins.add(row.user_id);
  }
  for (const row of await db.selectFrom('group_join_requests').select(['group_id', 'user_id']).execute()) {
    state.groups.get(row.group_id)?.requests.add(row.user_id);
  }
  for (const row of await db.selectFrom('calls').selectAll().where('state', 'in', ['ringing', 'accepted']).execute()) {
    state.calls.set(row.call_id, callFromRow(row));
  }
  return state;
}

/** The newest committed event id (0 for an empty log). */
export async function lastEventIdIn(db: Db): Promise<number> {
  const last = await db.selectFrom('events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
  return Number(last?.id ?? 0);
}

/** Each user's newest inbox seq (0 for an empty inbox). */
export async function inboxHeadsIn(db: Db, users: readonly string[], maxParams: number): Promise<Map<string, number>> {
  const heads = new Map<string, number>();
  for (const part of chunk([...new Set(users)], 1, maxParams)) {
    const rows = await db.selectFrom('inbox').select(['user_id', (eb) => eb.fn.max('seq').as('head')])
      .where('user_id', 'in', part).groupBy('user_id').execute();
    for (const user of part) heads.set(user, 0);
    for (const row of rows) heads.set(row.user_id, Number(row.head));
  }
  return heads;
}

/** The read half of a LogBackend: plain Kysely over the shared schema, the same on every dialect. */
export class SqlLogReads implements Omit<LogBackend, 'write' | 'reset' | 'close'> {
  readonly #db: Kysely<Database>;
  readonly #dialect: SqlDialect;

  constructor(db: Kysely<Database>, dialect: SqlDialect) {
    this.#db = db;
    this.#dialect = dialect;
  }

  loadProjectionState(): Promise<ProjectionState> {
    return loadProjectionState(this.#db);
  }

  lastEventId(): Promise<number> {
    return lastEventIdIn(this.#db);
  }

  inboxHeads(users: readonly string[]): Promise<Map<string, number>> {
    if (this.#dialect.compactInbox) return compactHeadsIn(this.#db, users, this.#dialect.maxParams);
    return inboxHeadsIn(this.#db, users, this.#dialect.maxParams);
  }

  async readInbox(userId: string, after: number, upTo: number, limit: number): Promise<InboxEntry[]> {
    if (this.#dialect.compactInbox && this.#dialect.remote) return readCompactInboxInOneStatement(this.#db, userId, after, upTo, limit);
    if (this.#dialect.compactInbox) return readCompactInbox(this.#db, userId, after, upTo, limit, this.#dialect.maxParams);
    const rows = await this.#db.selectFrom('inbox as i')
      .innerJoin('events as e', 'e.id', 'i.event_id')
      .select(['i.seq', 'e.id', 'e.kind', 'e.conversation', 'e.sender', 'e.client_msg_id', 'e.message_id', 'e.at', 'e.json'])
      .where('i.user_id', '=', userId).where('i.seq', '>', after).where('i.seq', '<=', upTo)
      .orderBy('i.seq').limit(limit).execute();
    return rows.map((row) => ({ seq: Number(row.seq), event: rowToStored(row) }));
  }

  async eventsByIds(ids: readonly number[]): Promise<Map<number, StoredEvent>> {
    const out = new Map<number, StoredEvent>();
    for (const part of chunk([...new Set(ids)], 1, this.#dialect.maxParams)) {
      for (const row of await this.#db.selectFrom('events').selectAll().where('id', 'in', part).execute()) out.set(Number(row.id), rowToStored(row));
    }
    return out;
  }

  async eventByMessageId(messageId: string): Promise<StoredEvent | undefined> {
    const row = await this.#db.selectFrom('events').selectAll().where('message_id', '=', messageId).executeTakeFirst();
    return row ? rowToStored(row) : undefined;
  }

  async originalOf(sender: string, clientMsgId: string): Promise<AppendResult> {
    const original = await this.#db.selectFrom('events').selectAll()
      .where('sender', '=', sender).where('client_msg_id', '=', clientMsgId).executeTakeFirstOrThrow();
    const event = rowToStored(original);
    const seq = await this.#seqOf(event.sender, event.eventId);
    return { event, seqs: new Map([[event.sender, seq ?? 0]]), duplicate: true };
  }

  /** The user's seq for the event, when it is in their inbox. */
  async #seqOf(userId: string, eventId: number): Promise<number | undefined> {
    const entry = await firstEntryAfter(this.#db, this.#dialect, userId, eventId - 1);
    return entry?.eventId === eventId ? entry.seq : undefined;
  }

  async recipientsAmong(event: StoredEvent, users: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    // A search per user (SQLite: about 18 probes for an event 200 entries back; PostgreSQL: one
    // statement): a 2,000-member group takes the better part of a second, so other work gets the
    // event loop between users.
    let searched = 0;
    for (const user of new Set(users)) {
      const seq = await this.#seqOf(user, event.eventId);
      if (seq !== undefined) out.set(user, seq);
      if (++searched % RECIPIENTS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  }

  async storedCursor(userId: string, deviceId: string): Promise<number> {
    const row = await this.#db.selectFrom('device_cursors').select('acked_seq')
      .where('user_id', '=', userId).where('device_id', '=', deviceId).executeTakeFirst();
    return Number(row?.acked_seq ?? 0);
  }
}
