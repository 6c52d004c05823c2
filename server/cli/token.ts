import type { Command } from 'commander';
import { resolveSecrets } from '../runtime-config.ts';
import { mintToken } from '../auth/tokens.ts';
import { configFrom, withCommonOptions, type CommonOptions } from './options.ts';

export function tokenCommand(program: Command): void {
  withCommonOptions(program.command('token <userId>').description('mint a login token for local testing (signed with the first app secret)'))
    .option('--ttl <seconds>', 'lifetime in seconds (default auth.tokenTtlSec)')
    .action((userId: string, options: CommonOptions & { ttl?: string }) => {
      if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(userId)) {
        process.stderr.write('userId must be 1-64 characters of A-Z a-z 0-9 _ . @ -\n');
        process.exit(2);
      }
      const config = configFrom(options);
      const secret = resolveSecrets(config).app[0]!;
      process.stdout.write(`${mintToken(secret, userId, options.ttl ? Number(options.ttl) : config.auth.tokenTtlSec)}\n`);
    });
}
