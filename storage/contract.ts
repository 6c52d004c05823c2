/**
 * The storage contract: what the server and the push module may ask of storage, on every dialect.
 * `Store` is built from these interfaces only (storage/index.ts); a dialect (storage/sqlite/,
 * storage/postgres/) implements the write half of the log (`LogBackend`) and the SQL read side, and
 * the dialect-free engine (storage/engine/) does the rest: planning, group commit, recovery, the
 * head cache and ack-cursor coalescing. test/storage/conformance.test.ts runs one body per dialect.
 */
import type { Kysely } from 'kysely';
import type { ErrorCode, EventKind, GroupRole, JoinPolicy } from '../protocol/index.ts';
import type { CallRecord, EventDraft } from './domain/model.ts';
import type { ProjectedEvent, ProjectionState } from './domain/projector.ts';
import type { Database } from './sql/schema.ts';

export type { CallRecord, EventDraft } from './domain/model.ts';
import type { PushStore } from './push-store.ts';
import type { SettingsStore } from './settings-store.ts';

/** One row of the append-only log, as the storage layer returns it. */
export interface StoredEvent {
  eventId: number;
  kind: EventKind;
  conversation: string;
  sender: string;
  at: number;
  clientMsgId: string | null;
  messageId: string | null;
  /** The delivered JSON object without `seq` (each reader has its own seq); see withSeq(). */
  json: string;
}

export interface InboxEntry {
  seq: number;
  event: StoredEvent;
}

export interface AppendResult {
  event: StoredEvent;
  /** Inbox seq of each recipient for this event. */
  seqs: Map<string, number>;
  /** True when an idempotent resend matched an earlier event (LOG-2); nothing new was stored. */
  duplicate: boolean;
}

/**
 * Called after every committed batch, in log order, before the appenders' promises resolve. A
 * listener that throws is reported (logged and counted) and never keeps an append unanswered.
 */
export type AppendListener = (committed: readonly AppendResult[]) => void;

export interface EventLog {
  /** LOG-1: resolves once the event is durably committed (or with the original on a resend, LOG-2). */
  append(draft: EventDraft): Promise<AppendResult>;
  /** `name` labels the listener in logs and in the listener-error metric. */
  onCommitted(name: string, listener: AppendListener): void;
  /** Entries of a user's inbox with seq > after, oldest first, at most limit; never past headSeq(). */
  readInbox(userId: string, after: number, limit: number): Promise<InboxEntry[]>;
  headSeq(userId: string): Promise<number>;
  /** Synchronous view of the newest seq known for a user, if it is cached (used at the sync/live seam). */
  cachedHeadSeq(userId: string): number | undefined;
  /** The newest committed event id this process knows of. */
  lastEventId(): number;
  eventsByIds(ids: readonly number[]): Promise<Map<number, StoredEvent>>;
  eventByMessageId(messageId: string): Promise<StoredEvent | undefined>;
  /** Which of these users have the event in their inbox (and at which seq). */
  recipientsAmong(event: StoredEvent, users: readonly string[]): Promise<Map<string, number>>;
  /**
   * Commits another process made (a publication from another node): the head cache, the newest
   * event id and the planner's cache of groups and calls follow them. Best effort: a lost one is
   * made good by the database (the head is re-read, the shared state re-projected).
   */
  observe(committed: readonly AppendResult[]): void;
  /** The newest seq of a user as the database has it now (bypassing the cache), raising the cache. */
  freshHeadSeq(userId: string): Promise<number>;
  /** freshHeadSeq for many users in few reads (a user the database has no row for: 0). */
  freshHeadSeqs(userIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * The newest event id as the database has it now: at least lastEventId(), and more when another
   * process committed events this one has not observed yet. The cache is left alone.
   */
  freshLastEventId(): Promise<number>;
  /** Drafts queued and not yet handed to the writer. */
  readonly queueDepth: number;
  /** Wait until everything submitted so far is committed. */
  flush(): Promise<void>;
}

/** SYNC-1: the newest seq each device acknowledged. Device state, not log events. */
export interface DeviceCursors {
  /** Includes acks not committed yet, so a reader never acts on an older cursor. */
  ackedSeq(userId: string, deviceId: string): Promise<number>;
  /** Rides along with the next commit (or a short timer); the newest value per device wins. */
  saveAckedSeq(userId: string, deviceId: string, seq: number): void;
  /**
   * Resolves once the device's newest ack is committed, or its commit failed (the cursor then
   * waits for the next one). After it resolves, a reader in any process sees that ack.
   */
  ackedSeqSaved(userId: string, deviceId: string): Promise<void>;
}

export interface ConversationUnread {
  conversation: string;
  unread: number;
  readEventId: number;
  lastEventId: number;
}


/** A group as its members see it (group_members). */
export interface GroupInfo {
  name: string;
  owner: string | undefined;
  joinPolicy: JoinPolicy;
  members: string[];
  roles: Record<string, GroupRole>;
  /** Pending join requests. */
  requests: string[];
}

/** Read models derived from the log (LOG-4). The group and active-call lookups are synchronous: the planner holds them. */
export interface ReadModels {
  /** False for unknown and for dissolved groups. */
  isGroup(groupId: string): boolean;
  group(groupId: string): GroupInfo | undefined;
  groupName(groupId: string): string | undefined;
  groupMembers(groupId: string): readonly string[] | undefined;
  isMember(groupId: string, userId: string): boolean;
  /** A call that is not over yet (no I/O). */
  activeCall(callId: string): CallRecord | undefined;
  callsByIds(callIds: readonly string[]): Promise<Map<string, CallRecord>>;
  ringingCalls(): Promise<CallRecord[]>;
  readCursor(userId: string, conversation: string): Promise<number>;
  unread(userId: string): Promise<ConversationUnread[]>;
  totalUnread(userId: string): Promise<number>;
}

export interface Store {
  readonly dialect: string;
  log: EventLog;
  cursors: DeviceCursors;
  readModels: ReadModels;
  push: PushStore;
  settings: SettingsStore;
  /**
   * The query builder over the same schema on every dialect: for tools and tests that inspect
   * tables. Features never use it.
   */
  db: Kysely<Database>;
  /** LOG-4: recompute every read model from the events table (the server must not be running on it). */
  rebuild(): Promise<{ events: number }>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The write half a dialect implements. The engine plans (validation, projection, message ids) in
// log order; the backend assigns what must be unique (event ids, per-user inbox seqs) when it
// writes, so a database shared by several processes can assign them.

/** A planned event: everything but its id, which the backend assigns. */
export interface PlannedEvent {
  kind: EventKind;
  conversation: string;
  sender: string;
  clientMsgId: string | null;
  messageId: string | null;
  at: number;
  /** The delivered JSON object without `eventId` and `seq`; see eventJson(). */
  body: string;
}

export interface WriteItem {
  /**
   * What was asked, for a backend that several processes share: it re-projects drafts whose
   * validity depends on shared state (group membership, a call's state) on that state, read
   * under its own locks in the write's transaction, and answers with the authoritative result.
   */
  draft?: EventDraft;
  event: PlannedEvent;
  /** Inbox recipients, in order; `countable[i]` is 1 when the event counts toward `recipients[i]`'s unread. */
  recipients: string[];
  countable: number[];
  readCursor?: ProjectedEvent['readCursor'];
  groupChange?: ProjectedEvent['groupChange'];
  callChange?: CallRecord;
}

export interface CursorWrite {
  userId: string;
  deviceId: string;
  seq: number;
}

export interface WriteBatch {
  items: WriteItem[];
  cursors: CursorWrite[];
}

/**
 * Per item: its event id and each recipient's seq (same order as `recipients`); or a resend
 * (nothing stored); or a refusal on the authoritative state (nothing stored). A backend that
 * re-projected the draft returns that projection, and its recipients and effects are the ones
 * that count (the seqs then follow `projected.recipients`).
 */
export type WrittenItem =
  | { eventId: number; seqs: number[]; projected?: ProjectedEvent }
  | { resent: true }
  | { rejected: { code: ErrorCode; message: string } };

export interface WriteResult {
  items: WrittenItem[];
}

/** The write half of the log and its reads, as a dialect provides them. Plain data in and out. */
export interface LogBackend {
  /**
   * Capability: this backend re-projects drafts on shared state in its transactions (several
   * processes write one database), so write items carry their drafts. A single writer (SQLite)
   * trusts the planner and is not sent them.
   */
  readonly reprojects?: boolean;
  /** Batches are written in call order, each in one transaction. After a failure every later write fails until reset(). */
  write(batch: WriteBatch): Promise<WriteResult>;
  /** The caller has reloaded its state after a failure: accept batches again. */
  reset(): void;
  /** What planning assumes: groups and their members, calls not over yet. */
  loadProjectionState(): Promise<ProjectionState>;
  lastEventId(): Promise<number>;
  /** Each user's newest inbox seq (0 for an empty inbox). */
  inboxHeads(users: readonly string[]): Promise<Map<string, number>>;
  readInbox(userId: string, after: number, upTo: number, limit: number): Promise<InboxEntry[]>;
  eventsByIds(ids: readonly number[]): Promise<Map<number, StoredEvent>>;
  eventByMessageId(messageId: string): Promise<StoredEvent | undefined>;
  /** LOG-2: the original of a resent message, with the sender's seq for it. */
  originalOf(sender: string, clientMsgId: string): Promise<AppendResult>;
  recipientsAmong(event: StoredEvent, users: readonly string[]): Promise<Map<string, number>>;
  storedCursor(userId: string, deviceId: string): Promise<number>;
  close(): Promise<void>;
}

/** The stored and delivered event JSON: the planned body with the id the backend assigned, first. */
export function eventJson(eventId: number, body: string): string {
  return body === '{}' ? `{"eventId":${eventId}}` : `{"eventId":${eventId},${body.slice(1)}`;
}

/** Prefix the stored event JSON with a reader's seq without re-serialising it. */
export function withSeq(seq: number, json: string): string {
  return `{"seq":${seq},${json.slice(1)}`;
}
