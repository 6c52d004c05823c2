import { ProtocolError } from '../../protocol/index.ts';
import { verifyToken } from '../auth/tokens.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';

/** login / logout: identity (AUTH-1), multi-device policy (AUTH-2), the start of presence. */
export function loginFeature(ctx: Pick<ServerContext, 'config' | 'secrets' | 'store' | 'hub' | 'presence' | 'controller' | 'sessions' | 'events' | 'logger'>): FrameHandlers {
  const { config, store, hub, presence, controller, sessions, events } = ctx;
  return {
    async login(session, frame) {
      if (session.identity) throw new ProtocolError('already_logged_in');
      const { sub: userId, dev } = verifyToken(frame.token, ctx.secrets.app, config.auth.clockSkewSec);
      const { deviceId, platform } = frame;
      // A backend that mints a token per device: the token logs in that device only.
      if (dev !== undefined ? dev !== deviceId : config.auth.requireDeviceClaim) throw new ProtocolError('token_device_mismatch');
      const [ackedSeq, headSeq, online] = await Promise.all([
        store.cursors.ackedSeq(userId, deviceId), store.log.headSeq(userId), presence.devicesOf(userId),
      ]);
      if (session.closed) return;
      const kicked = new Set<string>();
      if (config.sessions[platform] === 'single') {
        for (const other of online) {
          if (other.platform !== platform || other.deviceId === deviceId) continue;
          kicked.add(other.deviceId);
          events.emit('device_logged_out', { userId, deviceId: other.deviceId, reason: 'kicked' });
          await controller.disconnect(other, {
            reason: 'kicked', message: 'another device of this platform logged in',
            notice: { type: 'kicked', reason: 'single_device_policy', byDeviceId: deviceId },
          });
        }
      }
      // The same device's earlier session is replaced below, so it does not count against the cap.
      const others = online.filter((d) => d.deviceId !== deviceId && !kicked.has(d.deviceId)).length;
      if (others >= config.limits.maxConnectionsPerUser) throw new ProtocolError('too_many_connections');
      if (session.closed) return;
      // The same device reconnecting: its old socket is stale (often half-open), retire it quietly.
      const local = hub.sessionOf(userId, deviceId);
      if (local) sessions.end(local, 'replaced', 'replaced by a new connection of this device');
      session.delivery.startAt(ackedSeq);
      const replaced = await sessions.authenticate(session, { userId, deviceId, platform });
      if (replaced) await controller.disconnect(replaced, { reason: 'replaced', message: 'replaced by a new connection of this device' });
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
      sessions.end(session, 'logout');
    },

  };
}
