import type { Command } from 'commander';
import { openStore } from '../../storage/index.ts';
import { explainMessage, type MessageExplanation } from '../../push/why.ts';
import { resolveSecrets, storageConfig } from '../runtime-config.ts';
import { configFrom, withCommonOptions, type CommonOptions } from './options.ts';

export function renderExplanation(e: MessageExplanation): string {
  const lines = [`message ${e.messageId} (event ${e.eventId}) from ${e.sender} in ${e.conversation} at ${new Date(e.at).toISOString()}`];
  for (const r of e.recipients) {
    lines.push(`  ${r.userId}`);
    for (const d of r.devices) {
      lines.push(`    ${d.deviceId ?? '(no device)'}${d.pushId ? ` [${d.pushId}]` : ''}: ${d.outcome}`);
      for (const step of d.steps) lines.push(`      ${new Date(step.at).toISOString()} ${step.decision}:${step.reason}${step.detail ? ` (${step.detail})` : ''}`);
    }
  }
  if (e.recipients.length === 0) lines.push('  (no recipients matched)');
  return lines.join('\n');
}

/** `tidings why` (OPS-2) and `tidings push test` (OPS-1). */
export function pushToolCommands(program: Command): void {
  withCommonOptions(program.command('why <messageId>').description('explain why a message was or was not pushed to each recipient device'))
    .option('-u, --user <userId>', 'only this recipient')
    .option('--json', 'print JSON')
    .action(async (messageId: string, options: CommonOptions & { user?: string; json?: boolean }) => {
      const config = configFrom(options);
      // Read-only use (the server may be running on the same database): nothing is appended.
      const store = await openStore(storageConfig(config, { cacheSizeMb: 8 }), { maxBatch: 1, maxGroupMembers: config.limits.maxGroupMembers, writer: 'inline' });
      try {
        const explained = await explainMessage({ log: store.log, store: store.push, cursors: store.cursors }, messageId,
          (g) => store.readModels.groupMembers(g), options.user);
        if (!explained) {
          process.stderr.write(`no message ${messageId}\n`);
          process.exitCode = 1;
          return;
        }
        process.stdout.write(`${options.json ? JSON.stringify(explained, null, 2) : renderExplanation(explained)}\n`);
      } finally {
        await store.close();
      }
    });

  const push = program.command('push').description('push tools');
  withCommonOptions(push.command('test').description('send a test push through the running server to a user or PushID and print the vendor answer'))
    .option('-u, --user <userId>', 'every active registration of this user')
    .option('--push-id <pushId>', 'one registration')
    .option('--title <title>', 'notification title', 'tidings test push')
    .option('--body <body>', 'notification text', 'If you can read this, push works.')
    .option('--url <url>', 'server HTTP URL (default from host/port config)')
    .action(async (options: CommonOptions & { user?: string; pushId?: string; title: string; body: string; url?: string }) => {
      const config = configFrom(options);
      const admin = resolveSecrets(config).admin;
      if (!admin) throw new Error('admin.secret is not set; the admin API is off');
      const url = options.url ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
      const res = await fetch(`${url}/admin/push/test`, {
        method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...(options.user ? { userId: options.user } : {}), ...(options.pushId ? { pushId: options.pushId } : {}), title: options.title, body: options.body }),
      }).catch((error: unknown) => {
        process.stderr.write(`cannot reach the server at ${url}: ${(error as Error).message} (start it, or pass --url)\n`);
        process.exit(2);
      });
      process.stdout.write(`${JSON.stringify(await res.json(), null, 2)}\n`);
      if (!res.ok) process.exitCode = 1;
    });
}
