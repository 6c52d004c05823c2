import { randomUUID } from 'node:crypto';
import type { PushJobState } from '../../storage/index.ts';
import type { ServerContext } from '../context.ts';
import { json, type AdminRoute } from '../http-routes.ts';
import { explainMessage } from '../../push/why.ts';
import { isVoipCarrier } from '../../push/carriers.ts';
import { targetOf } from '../../push/dispatcher.ts';
import type { PushOutcome } from '../../push/vendors/contract.ts';

/** Operator views of push: sandbox records, the outbox and the decision trace (OPS-2). */
export function pushAdminRoutes(ctx: Pick<ServerContext, 'store' | 'push'>): Array<[string, AdminRoute]> {
  const store = ctx.store.push;
  return [
    // OPS-1: send a test notification straight through the provider and show the vendor's answer.
    ['POST /admin/push/test', async (req) => {
      let body: { userId?: unknown; pushId?: unknown; title?: unknown; body?: unknown };
      try {
        body = JSON.parse(req.body.toString('utf8') || '{}') as typeof body;
      } catch {
        return json(400, { error: 'body must be JSON: {"userId"|"pushId", "title", "body"}' });
      }
      const title = typeof body.title === 'string' ? body.title.slice(0, 256) : 'tidings test push';
      const text = typeof body.body === 'string' ? body.body.slice(0, 1024) : 'If you can read this, push works.';
      let bindings;
      if (typeof body.pushId === 'string') {
        const one = await store.bindingByPushId(body.pushId);
        bindings = one ? [one] : [];
      } else if (typeof body.userId === 'string') {
        bindings = await store.bindingsForUsers([body.userId]);
      } else {
        return json(400, { error: 'give "userId" or "pushId"' });
      }
      if (bindings.length === 0) return json(404, { error: 'no active push registration for that user or PushID' });
      const results = [];
      for (const binding of bindings) {
        const target = targetOf(binding);
        let outcome: PushOutcome;
        try {
          outcome = await ctx.push.providers.forTarget(target).send(target, {
            id: randomUUID(), purpose: 'test', kind: isVoipCarrier(binding) ? 'voip' : 'alert', priority: 'high',
            title, body: text, data: { type: 'test' },
          });
        } catch (error) {
          outcome = { status: 'config_error', reason: (error as Error).message };
        }
        results.push({ pushId: binding.pushId, deviceId: binding.deviceId, provider: binding.registration, credential: binding.credential, ...binding.options, outcome });
      }
      return json(200, { results });
    }],
    ['GET /admin/pushes', (_req, query) => {
      if (!ctx.push.providers.sandboxMode) return json(404, { error: 'push sandbox is off (vendor credentials are configured)' });
      return json(200, { pushes: ctx.push.providers.sandbox.list(Number(query.get('limit') ?? 100)) });
    }],
    ['GET /admin/push-jobs', async (_req, query) => {
      const filter: { userId?: string; deviceId?: string; state?: PushJobState } = {};
      if (query.get('user')) filter.userId = query.get('user')!;
      if (query.get('device')) filter.deviceId = query.get('device')!;
      if (query.get('state')) filter.state = query.get('state') as PushJobState;
      return json(200, { jobs: await store.jobs(filter, Math.min(1000, Number(query.get('limit') ?? 200))) });
    }],
    ['GET /admin/trace', async (_req, query) => {
      const message = query.get('message') ?? undefined;
      const user = query.get('user') ?? undefined;
      if (message) {
        const explained = await explainMessage({ log: ctx.store.log, store, cursors: ctx.store.cursors }, message, (g) => ctx.store.readModels.groupMembers(g), user);
        return explained ? json(200, explained) : json(404, { error: `no message ${message}` });
      }
      if (user) return json(200, { userId: user, trace: await store.traceFor({ userId: user }, Number(query.get('limit') ?? 200)) });
      return json(400, { error: 'give ?message=<messageId> [&user=<userId>] or ?user=<userId>' });
    }],
  ];
}
