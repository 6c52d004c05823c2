import { Value } from '@sinclair/typebox/value';
import { ProtocolError } from '../../protocol/index.ts';
import { pushIdFor } from '../../push/push-service.ts';
import { RegistrationError } from '../../push/vendors/contract.ts';
import { registrationKind } from '../../push/vendors/registry.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';

/**
 * Device push registration (DEV-1..5). A registration is tied to the device and bound to the
 * user logged in on it; the PushID is stable per device and registration kind. What a token looks
 * like is each vendor's rule (push/vendors/<vendor>/).
 */
export function pushRegistrationFeature(ctx: Pick<ServerContext, 'store' | 'config' | 'push' | 'logger'>): FrameHandlers {
  const { store, config } = ctx;
  const { providers, service } = ctx.push;
  return {
    async push_register(session, frame) {
      const { userId, deviceId } = session.identity!;
      const registered = registrationKind(frame.provider);
      if (!registered) throw new ProtocolError('push_provider_unknown', `Unknown push provider "${frame.provider}".`);
      // DEV-3: names are checked here, not at send time, so a client bug surfaces at once.
      if (!providers.accepts(frame.provider, frame.credential)) {
        throw new ProtocolError('push_credential_unknown', `Unknown push credential "${frame.credential.slice(0, 40)}" for ${frame.provider} (names are 1-32 characters and must be configured for that provider).`);
      }
      const { kind } = registered;
      const token = Value.Check(kind.tokenSchema, frame.token) ? kind.storedToken(frame.token) : undefined;
      if (token === undefined || token.length > config.push.maxTokenLength) throw new ProtocolError('push_token_invalid');
      let options: Record<string, string>;
      try {
        options = kind.options({ environment: frame.environment, topic: frame.topic });
      } catch (error) {
        if (error instanceof RegistrationError) throw new ProtocolError('push_token_invalid', error.message);
        throw error;
      }
      const pushId = pushIdFor(userId, deviceId, frame.provider);
      const holder = await store.push.bindingByToken(frame.provider, token);
      // A token still active for another user is never taken over: it moves only after that user
      // logged out of it, or the same device id logged in as the new user, which deactivates the
      // old binding first (DEV-4). Moving between a user's own devices is allowed. docs/SECURITY.md.
      if (holder && holder.pushId !== pushId && holder.active && holder.userId !== userId) {
        throw new ProtocolError('forbidden', 'This push token is registered to another active device or user.');
      }
      await store.push.upsertBinding({ pushId, deviceId, registration: frame.provider, token, credential: frame.credential, options, userId, active: true });
      ctx.logger.info({ userId, deviceId, pushId, provider: frame.provider, credential: frame.credential }, 'push registered');
      session.send({ type: 'push_registered', ref: frame.ref, pushId, provider: frame.provider });
    },

    async push_unregister(session, frame) {
      const { userId, deviceId } = session.identity!;
      const removed = await store.push.removeDeviceBindings(userId, deviceId, frame.provider);
      if (removed.length === 0) throw new ProtocolError('push_not_registered');
      await service.cancelPending(deviceId, 'unregistered', removed.map((b) => b.pushId));
      session.send({ type: 'ok', ref: frame.ref, for: 'push_unregister' });
    },
  };
}
