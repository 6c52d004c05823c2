import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevSecrets {
  app: string;
  admin: string;
}

/**
 * With no secrets configured, a local server must still work out of the box (`npm start`):
 * generate strong random secrets once and keep them in the data directory, mode 0600.
 */
export function loadOrCreateDevSecrets(dataDir: string): { secrets: DevSecrets; file: string; created: boolean } {
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) return { secrets: JSON.parse(readFileSync(file, 'utf8')) as DevSecrets, file, created: false };
  mkdirSync(dataDir, { recursive: true });
  const secrets = { app: randomBytes(32).toString('base64url'), admin: randomBytes(24).toString('base64url') };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return { secrets, file, created: true };
}
