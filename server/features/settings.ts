import { ProtocolError, groupConversation, peerConversation } from '../../protocol/index.ts';
import type { UserSettings } from '../../storage/index.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';
import type { Session } from '../sessions/session.ts';

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Receiver push settings (SET-1..6): changed by frames, read back in one call. */
export function settingsFeature(ctx: Pick<ServerContext, 'store' | 'config' | 'broker'>): FrameHandlers {
  const { store, config, broker } = ctx;
  const reply = (session: Session, ref: string | undefined, s: UserSettings) => session.send({ type: 'settings', ref, ...s });
  return {
    async settings_get(session, frame) {
      reply(session, frame.ref, await store.settings.get(session.userId));
    },
    async settings_update(session, frame) {
      if (frame.dnd && !isValidTimeZone(frame.dnd.timeZone)) {
        throw new ProtocolError('bad_settings', `Unknown time zone "${frame.dnd.timeZone}" (use an IANA name such as Europe/Berlin).`);
      }
      const { type: _type, ref, ...patch } = frame;
      reply(session, ref, await store.settings.update(session.userId, patch));
    },
    async mute(session, frame) {
      let conversation: string;
      if ('group' in frame.to) {
        // Unmuting stays possible after leaving, so the entry can be cleared.
        if (frame.muted && !store.readModels.isMember(frame.to.group, session.userId)) throw new ProtocolError('not_group_member');
        conversation = groupConversation(frame.to.group);
      } else {
        conversation = peerConversation(session.userId, frame.to.user);
      }
      const current = await store.settings.get(session.userId);
      if (frame.muted && !current.muted.includes(conversation) && current.muted.length >= config.limits.maxMutedConversations) {
        throw new ProtocolError('bad_settings', `At most ${config.limits.maxMutedConversations} muted conversations.`);
      }
      await store.settings.setMuted(session.userId, conversation, frame.muted);
      reply(session, frame.ref, await store.settings.get(session.userId));
    },
    async block(session, frame) {
      if (frame.user === session.userId) throw new ProtocolError('bad_recipient', 'You cannot block yourself.');
      const current = await store.settings.get(session.userId);
      if (frame.blocked && !current.blocked.includes(frame.user) && current.blocked.length >= config.limits.maxBlockedUsers) {
        throw new ProtocolError('bad_settings', `At most ${config.limits.maxBlockedUsers} blocked users.`);
      }
      await store.settings.setBlocked(session.userId, frame.user, frame.blocked);
      // The other nodes check blocks from memory on every send: they read this user's again.
      broker.signal('blocks', session.userId);
      reply(session, frame.ref, await store.settings.get(session.userId));
    },
  };
}
