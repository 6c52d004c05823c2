import { Command } from 'commander';
import { ConfigError } from '../config/load-config.ts';
import { CredentialConfigError } from '../../push/vendors/contract.ts';
import { configLeaves } from '../config/schema.ts';
import { ListenError } from '../transports/transport.ts';
import { serveCommand } from './serve.ts';
import { tokenCommand } from './token.ts';
import { migrateCommand, rebuildCommand } from './storage-tools.ts';
import { pushToolCommands } from './push-tools.ts';

/** The server's own commands; bin/tidings.mjs adds the tools' commands (`load`) beside them. */
export function buildProgram(): Command {
  const program = new Command('tidings')
    .description('tidings: an event-sourced real-time IM server with offline push')
    .showHelpAfterError()
    .addHelpText('after', `\nSettings (flag --set key=value, env var, or config file key):\n${configLeaves().map((l) => `  ${l.path.padEnd(34)} ${l.env}`).join('\n')}`);
  serveCommand(program);
  tokenCommand(program);
  rebuildCommand(program);
  migrateCommand(program);
  pushToolCommands(program);
  return program;
}

/** Operator errors are one line on stderr and exit 2, never a stack. */
export async function runProgram(program: Command, argv: string[] = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CredentialConfigError || error instanceof ListenError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
