import type { ServerContext } from '../context.ts';
import { json, type AdminRoute } from '../http-routes.ts';
import { mintToken } from '../auth/tokens.ts';

const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
const DEFAULT_TOKEN_TTL_SEC = 15 * 60;
const MAX_TOKEN_TTL_SEC = 24 * 3600;

/**
 * Admin routes for the browser demo and the push console (examples/): mint a login token for a
 * user, and list a user's devices (online sessions, active push registrations, what the sandbox
 * recorded for them). Behind the admin secret like every /admin route (AUTH-3).
 */
export function devAdminRoutes(ctx: ServerContext): Array<[string, AdminRoute]> {
  return [
    // The admin secret already grants everything; this saves the demo a backend of its own.
    ['POST /admin/token', (req) => {
      let body: { userId?: unknown; ttlSec?: unknown };
      try {
        body = JSON.parse(req.body.toString('utf8') || '{}') as typeof body;
      } catch {
        return json(400, { error: 'body must be JSON: {"userId": …, "ttlSec"?: …}' });
      }
      if (typeof body.userId !== 'string' || !USER_ID.test(body.userId)) {
        return json(400, { error: 'userId: 1–64 characters of A-Z a-z 0-9 _ . @ -' });
      }
      const ttlSec = typeof body.ttlSec === 'number' && Number.isInteger(body.ttlSec) && body.ttlSec > 0
        ? Math.min(body.ttlSec, MAX_TOKEN_TTL_SEC) : DEFAULT_TOKEN_TTL_SEC;
      const secret = ctx.secrets.app[0];
      if (!secret) return json(503, { error: 'no app secret configured' });
      const now = Date.now();
      return json(200, { userId: body.userId, token: mintToken(secret, body.userId, ttlSec, now), expiresAt: now + ttlSec * 1000 });
    }],
    ['GET /admin/devices', async (_req, query) => {
      const userId = query.get('user') ?? '';
      if (!USER_ID.test(userId)) return json(400, { error: 'give ?user=<userId>' });
      const sessions = ctx.registry.presence.sessionsOf(userId).map((s) => ({
        deviceId: s.identity?.deviceId, platform: s.identity?.platform, sessionId: s.sessionId, mode: s.mode,
        connectedAt: s.connectedAt, lastSeenAt: s.lastSeenAt, ackedSeq: s.ackedSeq, deliveredSeq: s.deliveredSeq,
      }));
      const registrations = (await ctx.store.push.bindingsForUsers([userId])).map((b) => ({
        pushId: b.pushId, deviceId: b.deviceId, provider: b.provider, credential: b.credential, environment: b.environment,
        topic: b.topic, token: b.token, active: b.active, online: ctx.registry.presence.isDeviceOnline(userId, b.deviceId),
      }));
      const tokens = new Set(registrations.map((r) => `${r.provider}:${r.token}`));
      const sandboxPushes = ctx.push.sandbox?.list().filter((p) => tokens.has(`${p.target.provider}:${p.target.token}`))
        .map((p) => ({ ...p, deviceId: registrations.find((r) => r.token === p.target.token)?.deviceId }));
      return json(200, { userId, sessions, registrations, sandbox: ctx.push.sandbox !== undefined, sandboxPushes: sandboxPushes ?? [] });
    }],
  ];
}
