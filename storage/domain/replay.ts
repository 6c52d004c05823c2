import type { CallAction, GroupRole, JoinPolicy } from '../../protocol/index.ts';
import { peerOf } from '../../protocol/index.ts';
import type { EventDraft } from './model.ts';

/** Recover the draft an event was appended from, so replay (rebuild) runs the very same projection. */
export function draftFromStored(kind: string, sender: string, conversation: string, clientMsgId: string | null, json: string): EventDraft {
  const body = JSON.parse(json) as Record<string, unknown>;
  switch (kind) {
    case 'message': {
      const to = body.to as { user?: string; group?: string };
      const data: Record<string, unknown> = { to: body.to, content: body.content };
      if (body.push !== undefined) data.push = body.push;
      return { kind, sender, conversation, clientMsgId: clientMsgId ?? '', data, ...(to.group !== undefined ? { group: to.group } : { peer: to.user }) };
    }
    case 'read': {
      const peer = peerOf(conversation, sender);
      return {
        kind, sender, conversation, upTo: body.upTo as number, ...(peer !== undefined ? { peer } : {}),
        ...(body.byDevice !== undefined ? { byDevice: body.byDevice as string } : {}),
      };
    }
    case 'group_created':
      return {
        kind, sender, groupId: body.groupId as string, name: body.name as string, members: body.members as string[],
        ...(body.joinPolicy !== undefined ? { joinPolicy: body.joinPolicy as JoinPolicy } : {}),
      };
    case 'member_joined':
    case 'member_left':
    case 'join_rejected':
      return { kind, sender, groupId: body.groupId as string, user: body.user as string };
    case 'member_role':
      return { kind, sender, groupId: body.groupId as string, user: body.user as string, role: body.role as GroupRole };
    case 'group_updated':
      return {
        kind, sender, groupId: body.groupId as string,
        ...(body.name !== undefined ? { name: body.name as string } : {}), ...(body.joinPolicy !== undefined ? { joinPolicy: body.joinPolicy as JoinPolicy } : {}),
      };
    case 'group_dissolved':
    case 'join_requested':
      return { kind, sender, groupId: body.groupId as string };
    case 'call_invited':
      return {
        kind, sender, callId: body.callId as string, invitees: body.invitees as string[], deadline: body.deadline as number,
        ...(body.data !== undefined ? { data: body.data as string } : {}), ...(body.push !== undefined ? { push: body.push as Record<string, unknown> } : {}),
      };
    case 'call_state':
      return { kind, sender, callId: body.callId as string, action: body.action as CallAction, ...(body.byDevice !== undefined ? { byDevice: body.byDevice as string } : {}) };
    default:
      throw new Error(`Cannot replay event kind ${kind}`);
  }
}
