import type { Command } from 'commander';
import { openStore } from '../../storage/index.ts';
import { storageConfig, storageLabel } from '../runtime-config.ts';
import { configFrom, withCommonOptions, type CommonOptions } from './options.ts';

/** Opening a store migrates it; these tools open it with the inline writer (no writer thread). */
async function open(options: CommonOptions) {
  const config = configFrom(options);
  const store = await openStore(storageConfig(config), { maxBatch: 1, maxGroupMembers: config.limits.maxGroupMembers, writer: 'inline' });
  return { config, store };
}

export function rebuildCommand(program: Command): void {
  withCommonOptions(program.command('rebuild').description('recompute every read model (inboxes, memberships, read cursors, unread counts) from the event log; run with the server stopped'))
    .action(async (options: CommonOptions) => {
      const { config, store } = await open(options);
      const started = Date.now();
      try {
        const { events } = await store.rebuild();
        process.stdout.write(`rebuilt read models of ${storageLabel(config)} from ${events} events in ${Date.now() - started} ms\n`);
      } finally {
        await store.close();
      }
    });
}

export function migrateCommand(program: Command): void {
  withCommonOptions(program.command('migrate').description('apply the storage migrations without starting the server'))
    .action(async (options: CommonOptions) => {
      const { config, store } = await open(options);
      await store.close();
      process.stdout.write(`${storageLabel(config)} is migrated to the latest version\n`);
    });
}
