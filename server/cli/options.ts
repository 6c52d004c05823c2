import { Option, type Command } from 'commander';
import { loadConfig } from '../config/load-config.ts';
import type { Config } from '../config/schema.ts';

export interface CommonOptions {
  config?: string;
  set?: string[];
  dataDir?: string;
}

/** Flags < config file < env applies inside loadConfig; here only the flag layer is built. */
export function configFrom(options: CommonOptions, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({
    file: options.config, env: process.env, sets: options.set ?? [],
    overrides: { ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...overrides },
  });
}

export function withCommonOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'JSON config file (also TIDINGS_CONFIG)')
    .option('-d, --data-dir <dir>', 'data directory (SQLite file, dev secrets)')
    .addOption(new Option('--set <key=value...>', 'set any config value, e.g. --set limits.maxFrameBytes=131072').default([]));
}

