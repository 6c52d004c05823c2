import { ProtocolError } from '../../protocol/index.ts';
import { verifyToken } from '../auth/tokens.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';

/** login / logout: identity (AUTH-1), multi-device policy (AUTH-2), the start of presence. */
export function loginFeature(ctx: ServerContext): FrameHandlers {
  const { registry, store, config, events } = ctx;
  const presence = registry.presence;
  return {
    async login(session, frame) {
      if (session.identity) throw new ProtocolError('already_logged_in');
      const { sub: userId } = verifyToken(frame.token, ctx.secrets.app, config.auth.clockSkewSec);
      const { deviceId, platform } = frame;
      const [ackedSeq, headSeq] = await Promise.all([store.readModels.ackedSeq(userId, deviceId), store.log.headSeq(userId)]);
      if (session.closed) return;
      // The same device reconnecting: its old socket is stale (often half-open), retire it quietly.
      const previous = presence.sessionOf(userId, deviceId);
      if (previous) registry.end(previous, 'replaced', 'replaced by a new connection of this device');
      if (config.sessions[platform] === 'single') {
        for (const other of presence.sessionsOf(userId)) {
          if (other.identity?.platform !== platform) continue;
          other.send({ type: 'kicked', reason: 'single_device_policy', byDeviceId: deviceId });
          events.emit('device_logged_out', { userId, deviceId: other.identity.deviceId, reason: 'kicked' });
          registry.end(other, 'kicked', 'another device of this platform logged in');
        }
      }
      if (presence.countFor(userId) >= config.limits.maxConnectionsPerUser) throw new ProtocolError('too_many_connections');
      session.ackedSeq = ackedSeq;
      session.deliveredSeq = ackedSeq;
      registry.authenticate(session, { userId, deviceId, platform });
      session.send({
        type: 'login_ok', ref: frame.ref, userId, deviceId, platform, sessionId: session.sessionId,
        headSeq, ackedSeq, heartbeatIntervalMs: config.heartbeat.intervalMs,
        heartbeatTimeoutMs: config.heartbeat.timeoutMs, serverTime: Date.now(),
      });
      ctx.logger.info({ userId, deviceId, platform, sessionId: session.sessionId }, 'login');
    },

    logout(session, frame) {
      const identity = session.identity!;
      events.emit('device_logged_out', { userId: identity.userId, deviceId: identity.deviceId, reason: 'logout' });
      session.send({ type: 'logged_out', ref: frame.ref });
      registry.end(session, 'logout');
    },

    ping(session, frame) {
      session.send({ type: 'pong', ref: frame.ref, t: frame.t, serverTime: Date.now() });
    },
  };
}
