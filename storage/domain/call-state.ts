import { ProtocolError, TERMINAL_CALL_STATES, type CallAction, type CallStateName } from '../../protocol/index.ts';
import type { CallRecord } from './model.ts';

/**
 * The call state machine (CALL-1), pure: given the call as of its place in the log and an action,
 * the next per-invitee and overall states, or a ProtocolError saying why the action is refused.
 */
export function nextCallState(call: CallRecord | undefined, action: CallAction, actor: string): CallRecord {
  if (!call) throw new ProtocolError('call_ended');
  const invitees: Record<string, CallStateName> = { ...call.invitees };
  const isInvitee = actor in invitees;
  let state: CallStateName = call.state;
  switch (action) {
    case 'accept':
    case 'reject': {
      if (!isInvitee) throw new ProtocolError('call_not_invitee');
      if (invitees[actor] !== 'ringing') throw new ProtocolError('call_ended', 'You already answered this call.');
      invitees[actor] = action === 'accept' ? 'accepted' : 'rejected';
      break;
    }
    case 'cancel': {
      if (actor !== call.inviter) throw new ProtocolError('call_not_inviter');
      if (call.state !== 'ringing') throw new ProtocolError('forbidden', 'The call was answered; end it with call_end.');
      for (const user of Object.keys(invitees)) if (invitees[user] === 'ringing') invitees[user] = 'cancelled';
      return { ...call, invitees, state: 'cancelled' };
    }
    case 'timeout': {
      // Nothing left ringing (everyone answered): the deadline changes nothing and logs nothing.
      if (!Object.values(invitees).includes('ringing')) throw new ProtocolError('call_ended', 'Nobody is ringing.');
      for (const user of Object.keys(invitees)) if (invitees[user] === 'ringing') invitees[user] = 'timed_out';
      break;
    }
    case 'end': {
      const mayEnd = actor === call.inviter || invitees[actor] === 'accepted';
      if (!mayEnd) throw new ProtocolError(isInvitee ? 'forbidden' : 'call_not_invitee', 'Only the inviter or an invitee in the call may end it.');
      // Ending before anyone answered is the inviter cancelling.
      if (call.state === 'ringing') return nextCallState(call, 'cancel', actor);
      for (const user of Object.keys(invitees)) if (invitees[user] === 'ringing') invitees[user] = 'cancelled';
      return { ...call, invitees, state: 'ended' };
    }
  }
  const states = Object.values(invitees);
  if (states.includes('accepted')) state = 'accepted';
  else if (!states.includes('ringing')) state = states.includes('timed_out') ? 'timed_out' : 'rejected';
  return { ...call, invitees, state };
}

export function isCallOver(call: Pick<CallRecord, 'state'>): boolean {
  return TERMINAL_CALL_STATES.has(call.state);
}

/** Invitees who never answered a call that is over: they get a "missed call" push (MSG-3). */
export function missedBy(call: Pick<CallRecord, 'state' | 'invitees'>, user: string): boolean {
  const mine = call.invitees[user];
  return isCallOver(call) && (mine === 'timed_out' || mine === 'cancelled') && call.state !== 'ended';
}
