import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config/schema.ts';
import type { ServerContext } from './context.ts';
import { loadOrCreateDevSecrets } from './dev-secrets.ts';

/** Small helpers the CLI needs without loading the whole server (and firebase-admin). */
export function storageFile(config: Config): string {
  return config.storage.file ?? join(config.dataDir, 'tidings.db');
}

export function resolveSecrets(config: Config, logger?: Logger): ServerContext['secrets'] {
  if (config.auth.secrets.length > 0) return { app: config.auth.secrets, admin: config.admin.secret };
  const { secrets, file, created } = loadOrCreateDevSecrets(config.dataDir);
  logger?.warn({ file, created }, 'no auth.secrets configured: using generated development secrets');
  return { app: [secrets.app], admin: config.admin.secret ?? secrets.admin };
}

