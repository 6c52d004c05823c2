import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StorageConfig } from '../storage/index.ts';
import type { Config } from './config/schema.ts';
import type { ServerContext } from './context.ts';
import { loadOrCreateDevSecrets } from './dev-secrets.ts';

/** Small helpers the CLI needs without loading the whole server (and the vendors' SDKs). */
export function storageFile(config: Config): string {
  return config.storage.file ?? join(config.dataDir, 'tidings.db');
}

/** The storage dialect's own config, from the server's `storage.*` settings. */
export function storageConfig(config: Config, overrides: { cacheSizeMb?: number } = {}): StorageConfig {
  // PostgreSQL: the URL, or none for pg's PG* environment variables; the SQLite settings do not apply.
  if (config.storage.dialect === 'postgres') return { dialect: 'postgres', ...(config.storage.url ? { url: config.storage.url } : {}) };
  return {
    dialect: config.storage.dialect, file: storageFile(config), synchronous: config.storage.synchronous,
    cacheSizeMb: overrides.cacheSizeMb ?? config.storage.cacheSizeMb,
  };
}

/** Where the data lives, for logs and CLI output (never a password). */
export function storageLabel(config: Config): string {
  if (config.storage.dialect === 'postgres') return `postgres:${redactedUrl(config.storage.url)}`;
  return `${config.storage.dialect}:${storageFile(config)}`;
}

function redactedUrl(url: string | undefined): string {
  if (!url) {
    const env = process.env;
    return `//${env.PGUSER ?? ''}@${env.PGHOST ?? 'localhost'}:${env.PGPORT ?? 5432}/${env.PGDATABASE ?? env.PGUSER ?? ''} (PG* environment)`;
  }
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/^postgres(ql)?:/, '');
  } catch {
    return '(unparsable storage.url)';
  }
}

export function resolveSecrets(config: Config, logger?: Logger): ServerContext['secrets'] {
  if (config.auth.secrets.length > 0) return { app: config.auth.secrets, admin: config.admin.secret };
  const { secrets, file, created } = loadOrCreateDevSecrets(config.dataDir);
  logger?.warn({ file, created }, 'no auth.secrets configured: using generated development secrets');
  return { app: [secrets.app], admin: config.admin.secret ?? secrets.admin };
}
