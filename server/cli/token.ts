import type { Command } from 'commander';
import { resolveSecrets } from '../runtime-config.ts';
import { mintToken } from '../auth/tokens.ts';
import { isId } from '../../protocol/index.ts';
import { configFrom, withCommonOptions, type CommonOptions } from './options.ts';

export function tokenCommand(program: Command): void {
  withCommonOptions(program.command('token <userId>').description('mint a login token for local testing (signed with the first app secret)'))
    .option('--ttl <seconds>', 'lifetime in seconds (default auth.tokenTtlSec)')
    .option('--device <deviceId>', 'bind the token to this device id (the server then refuses it for any other)')
    .action((userId: string, options: CommonOptions & { ttl?: string; device?: string }) => {
      for (const [what, value] of [['userId', userId], ['--device', options.device]] as const) {
        if (value !== undefined && !isId(value)) {
          process.stderr.write(`${what} must be 1-64 characters of A-Z a-z 0-9 _ . @ -\n`);
          process.exit(2);
        }
      }
      const config = configFrom(options);
      const secret = resolveSecrets(config).app[0]!;
      const ttl = options.ttl ? Number(options.ttl) : config.auth.tokenTtlSec;
      process.stdout.write(`${mintToken(secret, userId, ttl, Date.now(), options.device !== undefined ? { deviceId: options.device } : {})}\n`);
    });
}
