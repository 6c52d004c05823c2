import { nanoid } from 'nanoid';
import { ProtocolError, callConversation, groupConversation, parseConversation } from '../../protocol/index.ts';
import type { CallRecord, EventDraft } from './model.ts';
import { isCallOver, nextCallState } from './call-state.ts';
import { applyGroupChange as applyToGroups, projectGroupEvent, type GroupChange, type GroupDraft, type GroupState } from './group-rules.ts';

export type { GroupChange, GroupState } from './group-rules.ts';

/*
 * The projection rules of the log, shared by the live planner and by `tidings rebuild`, so the
 * rebuilt read models equal the live ones by construction (LOG-4). Pure: no I/O, no ids that must
 * be unique across processes (event ids and seqs are the backend's).
 */

/**
 * Message ids start with the time so the message_id index grows at its right edge (random ids
 * dirty a random page per insert); the random tail keeps them unguessable.
 */
export function newMessageId(at: number): string {
  return `${at.toString(36).padStart(9, '0')}${nanoid(12)}`;
}

export interface ProjectionState {
  groups: Map<string, GroupState>;
  /** Calls that are not over yet; finished calls live only in the read model table. */
  calls: Map<string, CallRecord>;
}

export interface ProjectedEvent {
  kind: EventDraft['kind'];
  at: number;
  conversation: string;
  sender: string;
  clientMsgId: string | null;
  messageId: string | null;
  /** The delivered JSON without `eventId` (assigned when written) and `seq` (per reader). */
  body: string;
  /** Inbox rows to write; countable = counts toward the recipient's unread. */
  recipients: Array<{ user: string; countable: boolean }>;
  /** For read events: the reader's new read cursor in this conversation. */
  readCursor?: { user: string; upTo: number };
  groupChange?: GroupChange;
  callChange?: CallRecord;
}

/** The fields every delivered event starts with. */
interface EventBase {
  kind: EventDraft['kind'];
  from: string;
  at: number;
}

export interface ProjectionLimits {
  maxGroupMembers: number;
  /** Rebuild: accept what the log holds; limits and rules added later are not applied to history. */
  replay?: boolean;
}

/**
 * Validate a draft against the state as of its place in the log and compute its effects.
 * Throws ProtocolError when the draft is no longer valid at that place (e.g. the sender left
 * the group in an earlier event of the same batch).
 */
export function project(
  draft: EventDraft, at: number, state: ProjectionState, limits: ProjectionLimits, messageId?: string,
): ProjectedEvent {
  const base: EventBase = { kind: draft.kind, from: draft.sender, at };
  switch (draft.kind) {
    case 'message': {
      const id = messageId ?? newMessageId(at);
      const body = JSON.stringify({ ...base, conversation: draft.conversation, messageId: id, clientMsgId: draft.clientMsgId, ...draft.data });
      const recipients: ProjectedEvent['recipients'] = [];
      if (draft.group !== undefined) {
        const group = state.groups.get(draft.group);
        if (!group || group.dissolved) throw new ProtocolError('group_not_found');
        if (!group.members.has(draft.sender)) throw new ProtocolError('not_group_member');
        for (const user of group.members) recipients.push({ user, countable: user !== draft.sender });
      } else {
        recipients.push({ user: draft.sender, countable: false });
        if (draft.peer !== undefined && draft.peer !== draft.sender) recipients.push({ user: draft.peer, countable: true });
      }
      return {
        kind: 'message', at, conversation: draft.conversation, sender: draft.sender, clientMsgId: draft.clientMsgId,
        messageId: id, body, recipients,
      };
    }
    case 'read': {
      const parsed = parseConversation(draft.conversation);
      if (parsed?.kind === 'group' && !state.groups.get(parsed.groupId)?.members.has(draft.sender)) {
        throw new ProtocolError('not_group_member');
      }
      // The reader's other devices learn of the read; in peer chats the other side gets a read receipt.
      const recipients = draft.peer && draft.peer !== draft.sender ? [draft.sender, draft.peer] : [draft.sender];
      return {
        kind: 'read', at, conversation: draft.conversation, sender: draft.sender, clientMsgId: null, messageId: null,
        body: JSON.stringify({ ...base, conversation: draft.conversation, upTo: draft.upTo, ...(draft.byDevice !== undefined ? { byDevice: draft.byDevice } : {}) }),
        recipients: recipients.map((user) => ({ user, countable: false })),
        readCursor: { user: draft.sender, upTo: draft.upTo },
      };
    }
    case 'call_invited':
    case 'call_state':
      return projectCall(draft, base, state);
    default:
      return projectGroup(draft, base, state, limits);
  }
}

function projectGroup(draft: GroupDraft, base: EventBase, state: ProjectionState, limits: ProjectionLimits): ProjectedEvent {
  const { body, recipients, change } = projectGroupEvent(draft, state.groups, limits);
  const conversation = groupConversation(draft.groupId);
  return {
    kind: draft.kind, at: base.at, conversation, sender: draft.sender, clientMsgId: null, messageId: null,
    body: JSON.stringify({ ...base, conversation, ...body }),
    recipients: recipients.map((user) => ({ user, countable: false })),
    groupChange: change,
  };
}

function projectCall(draft: Extract<EventDraft, { kind: 'call_invited' | 'call_state' }>, base: EventBase, state: ProjectionState): ProjectedEvent {
  const conversation = callConversation(draft.callId);
  let call: CallRecord;
  let body: Record<string, unknown>;
  if (draft.kind === 'call_invited') {
    if (state.calls.has(draft.callId)) throw new ProtocolError('forbidden', 'A call with this id is already in progress.');
    const invitees = [...new Set(draft.invitees)].filter((u) => u !== draft.sender);
    if (invitees.length === 0) throw new ProtocolError('bad_recipient', 'Invite at least one other user.');
    call = { callId: draft.callId, inviter: draft.sender, state: 'ringing', deadline: draft.deadline, invitees: Object.fromEntries(invitees.map((u) => [u, 'ringing'])) };
    body = { ...base, conversation, callId: draft.callId, invitees, deadline: draft.deadline, ...(draft.data !== undefined ? { data: draft.data } : {}), ...(draft.push ? { push: draft.push } : {}) };
  } else {
    const before = state.calls.get(draft.callId);
    call = nextCallState(before, draft.action, draft.sender);
    // Ending a call nobody answered is the inviter cancelling it, and the event says so.
    const action = draft.action === 'end' && before?.state === 'ringing' ? 'cancel' : draft.action;
    body = { ...base, conversation, callId: draft.callId, action, state: call.state, invitees: call.invitees, ...(draft.byDevice ? { byDevice: draft.byDevice } : {}) };
  }
  // CALL-2: every party, and each of their devices, sees every transition.
  const recipients = [call.inviter, ...Object.keys(call.invitees)];
  return {
    kind: draft.kind, at: base.at, conversation, sender: draft.sender, clientMsgId: null, messageId: null, body: JSON.stringify(body),
    recipients: recipients.map((user) => ({ user, countable: false })), callChange: call,
  };
}

export function applyCallChange(state: ProjectionState, call: CallRecord): void {
  if (isCallOver(call)) state.calls.delete(call.callId);
  else state.calls.set(call.callId, call);
}

/** Apply a projected group change to the in-memory state. */
export function applyGroupChange(state: ProjectionState, change: GroupChange): void {
  applyToGroups(state.groups, change);
}

