import type { Command } from 'commander';
import { openDatabase } from '../../storage/kysely/create-database.ts';
import { rebuildReadModels } from '../../storage/index.ts';
import { storageFile } from '../runtime-config.ts';
import { configFrom, withCommonOptions, type CommonOptions } from './options.ts';

export function rebuildCommand(program: Command): void {
  withCommonOptions(program.command('rebuild').description('recompute every read model (inboxes, memberships, read cursors, unread counts) from the event log; run with the server stopped'))
    .action(async (options: CommonOptions) => {
      const config = configFrom(options);
      const file = storageFile(config);
      const { db, close } = await openDatabase({ dialect: config.storage.dialect, file, synchronous: config.storage.synchronous, cacheSizeMb: config.storage.cacheSizeMb });
      const started = Date.now();
      const { events } = await rebuildReadModels(db);
      await close();
      process.stdout.write(`rebuilt read models of ${file} from ${events} events in ${Date.now() - started} ms\n`);
    });
}
