import type { CallAction, CallStateName, GroupRole, JoinPolicy } from '../../protocol/index.ts';

/*
 * The domain's own vocabulary: what an appender asks for and what a call is. The rules in this
 * folder speak it; storage/contract.ts re-exports it for the rest of the server.
 */

/** What a caller asks the log to append. Recipients are decided by the projector, not the caller. */
export type EventDraft =
  | { kind: 'message'; sender: string; conversation: string; clientMsgId: string; data: Record<string, unknown>; group?: string; peer?: string }
  | { kind: 'read'; sender: string; conversation: string; upTo: number; peer?: string; byDevice?: string }
  | { kind: 'group_created'; sender: string; groupId: string; name: string; members: string[]; joinPolicy?: JoinPolicy }
  /** `sender` is the user joining, or the admin who invites (`via: 'invite'`) or approves a request (`via: 'approve'`). */
  | { kind: 'member_joined'; sender: string; groupId: string; user: string; via?: 'join' | 'invite' | 'approve' }
  /** `sender` is the user leaving, or the admin removing them. */
  | { kind: 'member_left'; sender: string; groupId: string; user: string }
  | { kind: 'member_role'; sender: string; groupId: string; user: string; role: GroupRole }
  | { kind: 'group_updated'; sender: string; groupId: string; name?: string; joinPolicy?: JoinPolicy }
  | { kind: 'group_dissolved'; sender: string; groupId: string }
  | { kind: 'join_requested'; sender: string; groupId: string }
  | { kind: 'join_rejected'; sender: string; groupId: string; user: string }
  | { kind: 'call_invited'; sender: string; callId: string; invitees: string[]; deadline: number; data?: string; push?: Record<string, unknown> }
  | { kind: 'call_state'; sender: string; callId: string; action: CallAction; byDevice?: string };

/** A call's read model (LOG-4: rebuilt from its events). */
export interface CallRecord {
  callId: string;
  inviter: string;
  state: CallStateName;
  invitees: Record<string, CallStateName>;
  deadline: number;
}
