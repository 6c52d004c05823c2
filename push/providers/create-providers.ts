// Builds the ProviderRegistry from the named-credentials config. Validation is
// eager (fail at startup with a clear message) while vendor connections are
// lazy (created on first push), so a misconfigured-but-unused credential does
// not keep the server from starting and an unused one costs nothing.

import { existsSync } from 'node:fs';
import {
  CREDENTIAL_NAME_RE,
  CredentialConfigError,
  UnknownCredentialError,
  type ApnsCredentialConfig,
  type CredentialConfig,
  type CredentialsConfig,
  type FcmCredentialConfig,
  type ProviderRegistry,
  type PushProvider,
  type PushTarget,
} from './types.ts';
import { ApnsProvider, type ApnsProviderOptions } from './apns/apns-provider.ts';
import { FcmProvider } from './fcm/fcm-provider.ts';
import { SandboxProvider, sandboxProvider } from './sandbox/sandbox-provider.ts';

export interface CreateProvidersOptions {
  /** Route every target to the sandbox provider, whatever is configured. */
  sandbox?: boolean;
  /** Defaults to the process-wide `sandboxProvider`. */
  sandboxProvider?: SandboxProvider;
  apnsRequestTimeoutMs?: number;
  log?: (entry: Record<string, unknown>) => void;
}

export interface TidingsProviderRegistry extends ProviderRegistry {
  readonly sandboxMode: boolean;
  readonly sandbox: SandboxProvider;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function checkEndpoint(where: string, v: unknown, allowCa: boolean): void {
  if (v === undefined) return;
  if (!isObj(v) || !isStr(v.host) || !Number.isInteger(v.port) || (v.port as number) < 1 || (v.port as number) > 65535) {
    throw new CredentialConfigError(`${where} must be { host: string, port: 1..65535 }`);
  }
  if (allowCa && v.ca !== undefined && !isStr(v.ca)) throw new CredentialConfigError(`${where}.ca must be a PEM string`);
}

function checkFile(where: string, path: string): void {
  if (!existsSync(path)) throw new CredentialConfigError(`${where}: file not found: ${path}`);
}

function validateApns(name: string, c: Record<string, unknown>): void {
  const at = `push credential "${name}" (apns)`;
  if (!isStr(c.topic)) throw new CredentialConfigError(`${at}: topic (bundle id) is required`);
  const auth = c.auth;
  if (!isObj(auth)) throw new CredentialConfigError(`${at}: auth is required`);
  if (auth.kind === 'token') {
    if (!isStr(auth.keyId) || !isStr(auth.teamId)) throw new CredentialConfigError(`${at}: token auth needs keyId and teamId`);
    if (isStr(auth.key) === isStr(auth.keyFile)) throw new CredentialConfigError(`${at}: token auth needs exactly one of key, keyFile`);
    if (isStr(auth.keyFile)) checkFile(at, auth.keyFile);
  } else if (auth.kind === 'certificate') {
    const hasPfx = isStr(auth.pfx) || isStr(auth.pfxFile);
    const hasPem = isStr(auth.cert) && isStr(auth.key);
    if (hasPfx === hasPem) throw new CredentialConfigError(`${at}: certificate auth needs pfx/pfxFile or cert+key (not both)`);
    if (isStr(auth.pfx) && isStr(auth.pfxFile)) throw new CredentialConfigError(`${at}: give only one of pfx, pfxFile`);
    if (isStr(auth.pfxFile)) checkFile(at, auth.pfxFile);
    if (auth.passphrase !== undefined && typeof auth.passphrase !== 'string') {
      throw new CredentialConfigError(`${at}: passphrase must be a string`);
    }
  } else {
    throw new CredentialConfigError(`${at}: auth.kind must be "token" or "certificate"`);
  }
  if (c.endpoints !== undefined) {
    if (!isObj(c.endpoints)) throw new CredentialConfigError(`${at}: endpoints must be an object`);
    checkEndpoint(`${at}: endpoints.development`, c.endpoints.development, false);
    checkEndpoint(`${at}: endpoints.production`, c.endpoints.production, false);
  }
  if (c.ca !== undefined && !isStr(c.ca)) throw new CredentialConfigError(`${at}: ca must be a PEM string`);
  if (c.rejectUnauthorized !== undefined && typeof c.rejectUnauthorized !== 'boolean') {
    throw new CredentialConfigError(`${at}: rejectUnauthorized must be a boolean`);
  }
}

function validateFcm(name: string, c: Record<string, unknown>): void {
  const at = `push credential "${name}" (fcm)`;
  const hasInline = c.serviceAccount !== undefined;
  if (hasInline === isStr(c.serviceAccountFile)) {
    throw new CredentialConfigError(`${at}: needs exactly one of serviceAccount, serviceAccountFile`);
  }
  if (hasInline) {
    const sa = c.serviceAccount;
    if (!isObj(sa)) throw new CredentialConfigError(`${at}: serviceAccount must be an object`);
    for (const field of ['project_id', 'client_email', 'private_key'] as const) {
      if (!isStr(sa[field])) throw new CredentialConfigError(`${at}: serviceAccount.${field} is required`);
    }
  } else {
    checkFile(at, c.serviceAccountFile as string);
  }
  if (c.projectId !== undefined && !isStr(c.projectId)) throw new CredentialConfigError(`${at}: projectId must be a string`);
  checkEndpoint(`${at}: endpoint`, c.endpoint, true);
  if (c.endpoint !== undefined && hasInline) {
    // firebase-admin 13 ignores the redirecting agent for inline service
    // accounts during the OAuth2 exchange (see fcm-provider.ts).
    throw new CredentialConfigError(`${at}: endpoint redirection requires serviceAccountFile, not an inline serviceAccount`);
  }
}

/** Throws CredentialConfigError describing the first problem; never echoes secret values. */
export function validateCredentials(credentials: unknown): asserts credentials is CredentialsConfig {
  if (!isObj(credentials)) throw new CredentialConfigError('push credentials must be an object of name -> config');
  for (const [name, config] of Object.entries(credentials)) {
    if (!CREDENTIAL_NAME_RE.test(name)) {
      throw new CredentialConfigError(`invalid push credential name "${name.slice(0, 40)}": use 1..32 chars of [A-Za-z0-9._-]`);
    }
    if (!isObj(config)) throw new CredentialConfigError(`push credential "${name}" must be an object`);
    if (config.type === 'apns') validateApns(name, config);
    else if (config.type === 'fcm') validateFcm(name, config);
    else throw new CredentialConfigError(`push credential "${name}": type must be "apns" or "fcm"`);
  }
}

export function createProviders(credentials: CredentialsConfig, opts: CreateProvidersOptions = {}): TidingsProviderRegistry {
  validateCredentials(credentials);
  const sandbox = opts.sandboxProvider ?? sandboxProvider;
  const names = Object.keys(credentials);
  const sandboxMode = opts.sandbox === true || names.length === 0;

  const providers = new Map<string, PushProvider>();
  if (!sandboxMode) {
    const apnsOpts: ApnsProviderOptions = {};
    if (opts.apnsRequestTimeoutMs !== undefined) apnsOpts.requestTimeoutMs = opts.apnsRequestTimeoutMs;
    if (opts.log) apnsOpts.log = opts.log;
    for (const [name, config] of Object.entries(credentials) as [string, CredentialConfig][]) {
      providers.set(
        name,
        config.type === 'apns'
          ? new ApnsProvider(name, config as ApnsCredentialConfig, apnsOpts)
          : new FcmProvider(name, config as FcmCredentialConfig, opts.log ? { log: opts.log } : {}),
      );
    }
  }

  return {
    sandboxMode,
    sandbox,
    forTarget(target: PushTarget): PushProvider {
      if (sandboxMode) return sandbox;
      const provider = providers.get(target.credential);
      if (!provider) throw new UnknownCredentialError(target.credential);
      return provider;
    },
    hasCredential(name: string): boolean {
      // In sandbox mode any well-formed name is accepted so devices can register
      // against the credential names production will use.
      return sandboxMode ? CREDENTIAL_NAME_RE.test(name) : providers.has(name);
    },
    credentialNames(): string[] {
      return [...names];
    },
    async close(): Promise<void> {
      await Promise.all([...providers.values()].map((p) => p.close()));
    },
  };
}
