import { isId } from '../../protocol/index.ts';
import type { ServerContext } from '../context.ts';
import { json, type AdminRoute } from '../http-routes.ts';
import { mintToken } from '../auth/tokens.ts';

const DEFAULT_TOKEN_TTL_SEC = 15 * 60;
const MAX_TOKEN_TTL_SEC = 24 * 3600;

/**
 * Admin routes for the browser demo and the push console (examples/): mint a login token for a
 * user, and list a user's devices (online sessions, active push registrations, what the sandbox
 * recorded for them). Behind the admin secret like every /admin route (AUTH-3).
 */
export function devAdminRoutes(ctx: Pick<ServerContext, 'secrets' | 'store' | 'hub' | 'presence' | 'push'>): Array<[string, AdminRoute]> {
  return [
    // The admin secret already grants everything; this saves the demo a backend of its own.
    ['POST /admin/token', (req) => {
      let body: { userId?: unknown; ttlSec?: unknown };
      try {
        body = JSON.parse(req.body.toString('utf8') || '{}') as typeof body;
      } catch {
        return json(400, { error: 'body must be JSON: {"userId": …, "ttlSec"?: …}' });
      }
      if (!isId(body.userId)) {
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
      if (!isId(userId)) return json(400, { error: 'give ?user=<userId>' });
      // Online anywhere (the presence directory), with the delivery state of those on this node.
      const online = await ctx.presence.devicesOf(userId);
      const sessions = online.map((d) => {
        const s = ctx.hub.bySessionId(userId, d.sessionId);
        return {
          deviceId: d.deviceId, platform: d.platform, sessionId: d.sessionId, nodeId: d.nodeId,
          ...(s ? { mode: s.delivery.mode, connectedAt: s.connectedAt, lastSeenAt: s.lastSeenAt, ackedSeq: s.delivery.ackedSeq, deliveredSeq: s.delivery.deliveredSeq } : {}),
        };
      });
      const onlineDevices = new Set(online.map((d) => d.deviceId));
      const registrations = (await ctx.store.push.bindingsForUsers([userId])).map((b) => ({
        pushId: b.pushId, deviceId: b.deviceId, provider: b.registration, credential: b.credential, ...b.options,
        token: b.token, active: b.active, online: onlineDevices.has(b.deviceId),
      }));
      const tokens = new Set(registrations.map((r) => `${r.provider}:${r.token}`));
      const sandbox = ctx.push.providers.sandboxMode;
      const sandboxPushes = sandbox ? ctx.push.providers.sandbox.list().filter((p) => tokens.has(`${p.target.provider}:${p.target.token}`))
        .map((p) => ({ ...p, deviceId: registrations.find((r) => r.token === p.target.token)?.deviceId })) : [];
      return json(200, { userId, sessions, registrations, sandbox, sandboxPushes });
    }],
  ];
}
