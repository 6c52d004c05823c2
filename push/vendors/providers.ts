/**
 * The configured credentials as providers. Validation is eager (a clear error at start naming the
 * setting) while vendor connections are lazy (created on first push), so an unused credential
 * costs nothing.
 */
import { Value } from '@sinclair/typebox/value';
import {
  CREDENTIAL_NAME_RE, CredentialConfigError, type PushProvider, type PushTarget, type PushVendor, type VendorDeps,
} from './contract.ts';
import { registrationMismatch } from './answers.ts';
import { registrationKind, VENDOR_TYPES, vendorOfType } from './registry.ts';
import { SandboxProvider } from './sandbox/sandbox-provider.ts';

export type CredentialsConfig = Record<string, { type: string } & Record<string, unknown>>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws CredentialConfigError naming the first problem's setting; never echoes secret values. */
export function validateCredentials(credentials: unknown): asserts credentials is CredentialsConfig {
  if (!isObj(credentials)) throw new CredentialConfigError('push.credentials must be an object of name -> credential');
  for (const [name, config] of Object.entries(credentials)) {
    if (!CREDENTIAL_NAME_RE.test(name)) {
      throw new CredentialConfigError(`invalid push credential name "${name.slice(0, 40)}": use 1..32 chars of [A-Za-z0-9._-]`);
    }
    if (!isObj(config)) throw new CredentialConfigError(`push.credentials.${name} must be an object`);
    const vendor = typeof config.type === 'string' ? vendorOfType(config.type) : undefined;
    if (!vendor) throw new CredentialConfigError(`push.credentials.${name}.type must be one of ${VENDOR_TYPES.map((t) => `"${t}"`).join(', ')}`);
    const first = Value.Errors(vendor.credentialSchema, config).First();
    if (first) {
      // The path and the rule only: the value may be a secret.
      throw new CredentialConfigError(`push.credentials.${name}${first.path.replace(/\//g, '.')}: ${first.message}`);
    }
    vendor.checkCredential?.(name, config as never);
  }
}

export class UnknownCredentialError extends Error {
  readonly credential: string;
  constructor(credential: string) {
    super(`unknown push credential "${credential}"`);
    this.name = 'UnknownCredentialError';
    this.credential = credential;
  }
}

export interface ProviderRegistry {
  /** Every target goes to the sandbox provider (no credentials configured, or `push.sandbox`). */
  readonly sandboxMode: boolean;
  readonly sandbox: SandboxProvider;
  /** The provider of a target's credential; throws UnknownCredentialError if the name is unknown. */
  forTarget(target: PushTarget): PushProvider;
  /** Can a device register this kind with this credential (DEV-3)? In sandbox mode any well-formed name can. */
  accepts(registration: string, credential: string): boolean;
  /** Is the credential configured (or the sandbox on), so a push to it can be sent at all? */
  canSend(credential: string): boolean;
  credentialNames(): string[];
  close(): Promise<void>;
}

export interface CreateProvidersOptions {
  /** Route every target to the sandbox provider, whatever is configured. */
  sandbox?: boolean;
  sandboxProvider?: SandboxProvider;
  deps?: Partial<VendorDeps>;
}

const memoryState = () => {
  const map = new Map<string, { value: string; expiresAt: number }>();
  return {
    async get(key: string) {
      const entry = map.get(key);
      return entry && entry.expiresAt > Date.now() ? entry.value : undefined;
    },
    async set(key: string, value: string, expiresAt: number) {
      map.set(key, { value, expiresAt });
    },
  };
};

/**
 * A target whose credential belongs to another vendor is an operator's mistake, never a dead token.
 * Checked here for every vendor, APNs and FCM included, with the same answer as the providers' own check.
 */
function guarded(vendor: PushVendor<never>, provider: PushProvider): PushProvider {
  const credential = { name: provider.name, vendor: vendor.type, accepts: vendor.registrations.map((kind) => kind.name) };
  return {
    name: provider.name,
    send: async (target, message) => registrationMismatch(target, credential) ?? provider.send(target, message),
    close: () => provider.close(),
  };
}

export function createProviders(credentials: CredentialsConfig, options: CreateProvidersOptions = {}): ProviderRegistry {
  validateCredentials(credentials);
  const sandbox = options.sandboxProvider ?? new SandboxProvider();
  // push.sandbox with credentials configured: the sandbox shows the bodies those credentials would send.
  sandbox.useCredentials((name) => (Object.hasOwn(credentials, name) ? credentials[name] : undefined));
  const names = Object.keys(credentials);
  const sandboxMode = options.sandbox === true || names.length === 0;
  const deps: VendorDeps = { log: () => undefined, state: memoryState(), now: Date.now, ...options.deps };
  const providers = new Map<string, { vendor: PushVendor<never>; provider: PushProvider }>();
  if (!sandboxMode) {
    for (const [name, config] of Object.entries(credentials)) {
      const vendor = vendorOfType(config.type)!;
      providers.set(name, { vendor, provider: guarded(vendor, vendor.create(name, config as never, deps)) });
    }
  }
  const vendorOf = (name: string) => providers.get(name)?.vendor;
  return {
    sandboxMode,
    sandbox,
    forTarget(target) {
      if (sandboxMode) return sandbox;
      const entry = providers.get(target.credential);
      if (!entry) throw new UnknownCredentialError(target.credential);
      return entry.provider;
    },
    accepts(registration, credential) {
      if (!CREDENTIAL_NAME_RE.test(credential)) return false;
      if (sandboxMode) return true;
      const vendor = vendorOf(credential);
      return vendor !== undefined && registrationKind(registration)?.vendor === vendor;
    },
    canSend: (credential) => sandboxMode || providers.has(credential),
    credentialNames: () => [...names],
    async close() {
      await Promise.all([...providers.values()].map(({ provider }) => provider.close()));
    },
  };
}
