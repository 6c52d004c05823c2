import { pino, type Logger } from 'pino';

/** Structured logs, one JSON line per event, secrets redacted by key wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'tidings' },
    redact: { paths: ['token', '*.token', 'secret', '*.secret', 'passphrase', '*.passphrase', 'key', '*.key', 'privateKey', '*.privateKey'], censor: '[redacted]' },
  });
}
