import { ProtocolError } from '../../protocol/index.ts';
import { pushIdFor } from '../../push/push-service.ts';
import { CREDENTIAL_NAME_RE } from '../../push/providers/types.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';

const APNS_TOKEN = /^[0-9a-fA-F]{32,200}$/;
const FCM_TOKEN = /^[A-Za-z0-9_:.\-]+$/;

/**
 * Device push registration (DEV-1..5). A registration is tied to the device and bound to the
 * user logged in on it; the PushID is stable per device+provider.
 */
export function pushRegistrationFeature(ctx: ServerContext): FrameHandlers {
  const { store, config } = ctx;
  const push = ctx.push;
  return {
    async push_register(session, frame) {
      const { userId, deviceId } = session.identity!;
      // DEV-3: names are checked here, not at send time, so a client bug surfaces at once.
      if (!CREDENTIAL_NAME_RE.test(frame.credential) || (!push.sandbox && !push.providers.hasCredential(frame.credential))) {
        throw new ProtocolError('push_credential_unknown', `Unknown push credential "${frame.credential.slice(0, 40)}" (names are 1-32 characters and must be configured).`);
      }
      const tokenOk = frame.token.length <= config.push.maxTokenLength
        && (frame.provider === 'fcm' ? FCM_TOKEN.test(frame.token) : APNS_TOKEN.test(frame.token));
      if (!tokenOk) throw new ProtocolError('push_token_invalid');
      const pushId = pushIdFor(userId, deviceId, frame.provider);
      const holder = await store.push.bindingByToken(frame.provider, frame.token);
      // A token still active for another user is never taken over: it moves only after that user
      // logged out of it, or the same device id logged in as the new user, which deactivates the
      // old binding first (DEV-4). Moving between a user's own devices is allowed. docs/SECURITY.md.
      if (holder && holder.pushId !== pushId && holder.active && holder.userId !== userId) {
        throw new ProtocolError('forbidden', 'This push token is registered to another active device or user.');
      }
      await store.push.upsertBinding({
        pushId, deviceId, provider: frame.provider, token: frame.token, credential: frame.credential,
        environment: frame.provider === 'fcm' ? null : (frame.environment ?? 'production'),
        topic: frame.topic ?? null, userId, active: true,
      });
      ctx.logger.info({ userId, deviceId, pushId, provider: frame.provider, credential: frame.credential }, 'push registered');
      session.send({ type: 'push_registered', ref: frame.ref, pushId, provider: frame.provider });
    },

    async push_unregister(session, frame) {
      const { userId, deviceId } = session.identity!;
      const removed = await store.push.removeDeviceBindings(userId, deviceId, frame.provider);
      if (removed.length === 0) throw new ProtocolError('push_not_registered');
      await ctx.push.service.cancelPending(deviceId, 'unregistered', removed.map((b) => b.pushId));
      session.send({ type: 'ok', ref: frame.ref, for: 'push_unregister' });
    },
  };
}
