import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, configLeaves, DEFAULT_MAX_GROUP_MEMBERS, type Config } from './schema.ts';
import { validateCredentials } from '../../push/vendors/providers.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlain(value) && isPlain(out[key]) ? merge(out[key] as Plain, value) : value;
  }
  return out;
}

export function setPath(target: Plain, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isPlain(node[key])) node[key] = {};
    node = node[key] as Plain;
  }
  node[keys[keys.length - 1]!] = value;
}

/** Strings from env vars and `--set` become numbers, booleans or arrays as the schema wants. */
function coerce(path: string, raw: string): unknown {
  const leaf = configLeaves().find((l) => l.path === path);
  if (!leaf) throw new ConfigError(`Unknown setting "${path}". Run \`tidings serve --help\` for the list.`);
  const type = (leaf.schema as { type?: string }).type;
  if (type === 'integer' || type === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new ConfigError(`Setting "${path}" must be a number, got "${raw}".`);
    return n;
  }
  if (type === 'boolean') return raw === 'true' || raw === '1';
  if (type === 'array') return raw.trim().startsWith('[') ? JSON.parse(raw) : raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (type === 'object') return JSON.parse(raw);
  return raw;
}

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** `path=value` pairs, e.g. from `--set limits.maxFrameBytes=1024`, and typed flag values. */
  overrides?: Plain;
  sets?: string[];
}

/** defaults < config file < TIDINGS_* env vars < flags; validated with errors that name the setting. */
export function loadConfig(sources: ConfigSources = {}): Config {
  let merged: Plain = {};
  const file = sources.file ?? sources.env?.TIDINGS_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`Cannot read config file ${file}: ${(error as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (!isPlain(parsed)) throw new Error('top level must be an object');
      merged = merge(merged, parsed);
    } catch (error) {
      throw new ConfigError(`Config file ${file} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const fromEnv: Plain = {};
  for (const leaf of configLeaves()) {
    const raw = sources.env?.[leaf.env];
    if (raw !== undefined && raw !== '') setPath(fromEnv, leaf.path, coerce(leaf.path, raw));
  }
  merged = merge(merged, fromEnv);
  const fromSets: Plain = {};
  for (const pair of sources.sets ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set expects key=value, got "${pair}".`);
    setPath(fromSets, pair.slice(0, eq), coerce(pair.slice(0, eq), pair.slice(eq + 1)));
  }
  merged = merge(merge(merged, sources.overrides ?? {}), fromSets);
  return validateConfig(merged);
}

export function validateConfig(input: unknown): Config {
  const withDefaults = Value.Default(ConfigSchema, structuredClone(input ?? {}));
  if (!Value.Check(ConfigSchema, withDefaults)) {
    const problems = [...Value.Errors(ConfigSchema, withDefaults)].slice(0, 5)
      .map((e) => `  ${e.path.replace(/^\//, '').replace(/\//g, '.') || '(root)'}: ${e.message}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  }
  const config = withDefaults as Config;
  config.limits.maxGroupMembers ??= DEFAULT_MAX_GROUP_MEMBERS[config.storage.dialect];
  if (config.heartbeat.timeoutMs <= config.heartbeat.intervalMs) {
    throw new ConfigError('Invalid configuration:\n  heartbeat.timeoutMs must be greater than heartbeat.intervalMs');
  }
  if (config.cluster.engine === 'redis' && (config.storage.dialect as string) !== 'postgres') {
    throw new ConfigError('Invalid configuration:\n  cluster.engine "redis" needs storage.dialect "postgres": several nodes cannot share an SQLite file');
  }
  // Each credential against its vendor's schema (push/vendors/<vendor>/): a CredentialConfigError names the setting.
  validateCredentials(config.push.credentials);
  return Object.freeze(config);
}
