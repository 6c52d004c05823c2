import type { CallAction, CallStateName, EventKind } from '../protocol/index.ts';

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

/** What a caller asks the log to append. Recipients are decided by the projector, not the caller. */
export type EventDraft =
  | { kind: 'message'; sender: string; conversation: string; clientMsgId: string; data: Record<string, unknown>; group?: string; peer?: string }
  | { kind: 'read'; sender: string; conversation: string; upTo: number; peer?: string }
  | { kind: 'group_created'; sender: string; groupId: string; name: string; members: string[] }
  | { kind: 'member_joined'; sender: string; groupId: string; user: string }
  | { kind: 'member_left'; sender: string; groupId: string; user: string }
  | { kind: 'call_invited'; sender: string; callId: string; invitees: string[]; deadline: number; data?: string; push?: Record<string, unknown> }
  | { kind: 'call_state'; sender: string; callId: string; action: CallAction; byDevice?: string };

export interface AppendResult {
  event: StoredEvent;
  /** Inbox seq of each recipient for this event. */
  seqs: Map<string, number>;
  /** True when an idempotent resend matched an earlier event (LOG-2); nothing new was stored. */
  duplicate: boolean;
}

/** Called after every committed batch, in log order, before the appenders' promises resolve. */
export type AppendListener = (committed: readonly AppendResult[]) => void;

export interface EventLog {
  append(draft: EventDraft): Promise<AppendResult>;
  onCommitted(listener: AppendListener): void;
  /** Entries of a user's inbox with seq > after, oldest first, at most limit. */
  readInbox(userId: string, after: number, limit: number): Promise<InboxEntry[]>;
  headSeq(userId: string): Promise<number>;
  /** Synchronous view of the newest seq known for a user, if it is cached (used at the sync/live seam). */
  cachedHeadSeq(userId: string): number | undefined;
  lastEventId(): number;
  eventsByIds(ids: readonly number[]): Promise<Map<number, StoredEvent>>;
  eventByMessageId(messageId: string): Promise<StoredEvent | undefined>;
  recipientsAmong(event: StoredEvent, users: readonly string[]): Promise<Map<string, number>>;
  /** Wait until everything submitted so far is committed. */
  flush(): Promise<void>;
}

export interface ConversationUnread {
  conversation: string;
  unread: number;
  readEventId: number;
  lastEventId: number;
}

/** A call's read model (LOG-4: rebuilt from its events). */
export interface CallRecord {
  callId: string;
  inviter: string;
  state: CallStateName;
  invitees: Record<string, CallStateName>;
  deadline: number;
}

export interface ReadModels {
  callsByIds(callIds: readonly string[]): Promise<Map<string, CallRecord>>;
  ringingCalls(): Promise<CallRecord[]>;
  isGroup(groupId: string): boolean;
  groupName(groupId: string): string | undefined;
  groupMembers(groupId: string): readonly string[] | undefined;
  isMember(groupId: string, userId: string): boolean;
  unread(userId: string): Promise<ConversationUnread[]>;
  totalUnread(userId: string): Promise<number>;
  ackedSeq(userId: string, deviceId: string): Promise<number>;
  saveAckedSeq(userId: string, deviceId: string, seq: number): Promise<void>;
}

/** Prefix the stored event JSON with a reader's seq without re-serialising it. */
export function withSeq(seq: number, json: string): string {
  return `{"seq":${seq},${json.slice(1)}`;
}
