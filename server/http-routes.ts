import type { ServerContext } from './context.ts';
import { secretsEqual } from './auth/tokens.ts';
import type { HttpHandler, HttpRequest, HttpResponse } from './transports/transport.ts';

export type AdminRoute = (request: HttpRequest, query: URLSearchParams) => Promise<HttpResponse> | HttpResponse;

export function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/**
 * /healthz, /metrics and the admin API on the WebSocket port. Admin routes are registered by
 * features (`GET /admin/pushes` by push); all of them require the admin secret, and the whole
 * admin API answers 404 when no secret is configured.
 */
function bearer(request: HttpRequest): string {
  const header = request.headers.authorization ?? '';
  return header.startsWith('Bearer ') ? header.slice(7) : '';
}

export function createHttpHandler(ctx: Pick<ServerContext, 'secrets' | 'hub' | 'metrics' | 'lifecycle' | 'config'>, adminRoutes: Map<string, AdminRoute>): HttpHandler {
  return async (request) => {
    const url = new URL(request.url, 'http://localhost');
    if (url.pathname === '/healthz' && request.method === 'GET') {
      return json(ctx.lifecycle.draining ? 503 : 200, {
        status: ctx.lifecycle.draining ? 'draining' : 'ok', sessions: ctx.hub.size(), uptimeSec: Math.round(process.uptime()),
      });
    }
    if (url.pathname === '/metrics' && request.method === 'GET') {
      const secret = ctx.config.metrics.secret;
      if (secret !== undefined && !secretsEqual(bearer(request), secret)) return json(401, { error: 'metrics secret required (Authorization: Bearer <metrics.secret>)' });
      ctx.metrics.sessions.set(ctx.hub.size());
      return { status: 200, headers: { 'content-type': ctx.metrics.registry.contentType }, body: await ctx.metrics.registry.metrics() };
    }
    if (url.pathname.startsWith('/admin/')) {
      const secret = ctx.secrets.admin;
      if (!secret) return json(404, { error: 'admin API disabled: set admin.secret' });
      if (!secretsEqual(bearer(request), secret)) return json(401, { error: 'admin secret required (Authorization: Bearer <admin.secret>)' });
      const route = adminRoutes.get(`${request.method} ${url.pathname}`);
      if (!route) return json(404, { error: 'no such admin route' });
      return route(request, url.searchParams);
    }
    return json(404, { error: 'not found' });
  };
}
