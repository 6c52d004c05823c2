import type { PushJobState } from '../../storage/index.ts';
import type { ServerContext } from '../context.ts';
import { json, type AdminRoute } from '../http-routes.ts';
import { explainMessage } from '../../push/why.ts';

/** Operator views of push: sandbox records, the outbox and the decision trace (OPS-2). */
export function pushAdminRoutes(ctx: ServerContext): Array<[string, AdminRoute]> {
  const store = ctx.store.push;
  return [
    ['GET /admin/pushes', (_req, query) => {
      if (!ctx.push.sandbox) return json(404, { error: 'push sandbox is off (vendor credentials are configured)' });
      return json(200, { pushes: ctx.push.sandbox.list(Number(query.get('limit') ?? 100)) });
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
        const explained = await explainMessage({ log: ctx.store.log, store }, message, (g) => ctx.store.readModels.groupMembers(g), user);
        return explained ? json(200, explained) : json(404, { error: `no message ${message}` });
      }
      if (user) return json(200, { userId: user, trace: await store.traceFor({ userId: user }, Number(query.get('limit') ?? 200)) });
      return json(400, { error: 'give ?message=<messageId> [&user=<userId>] or ?user=<userId>' });
    }],
  ];
}
