/**
 * The push vendor contract. A vendor (APNs, FCM, Huawei, Web Push, …) is one folder under
 * push/vendors/ exporting one `PushVendor`, plus one line in registry.ts. Nothing outside a
 * vendor's folder branches on its name: registration, carrier choice, credential validation,
 * the sandbox's preview and outcome classification all go through this contract.
 */
import type { TSchema } from '@sinclair/typebox';

/** What a push is for; vendors map it to their categories, channels and priorities. */
export type PushPurpose = 'message' | 'call_ring' | 'missed_call' | 'call_over' | 'badge_update' | 'test';

/** One device registration as the dispatcher sends to it. */
export interface PushTarget {
  /** The registration kind the device named (`provider` in push_register): 'apns', 'apns-voip', 'fcm', … */
  registration: string;
  /** The token in its stored form: a vendor token string, or canonical JSON for object tokens (Web Push subscriptions). */
  token: string;
  /** Name of a configured credential of this vendor. */
  credential: string;
  /** Vendor-specific registration fields (APNs `environment`, `topic`), as the vendor's registration returned them. */
  options: Readonly<Record<string, string>>;
}

export interface PushMessage {
  /** Idempotency key of this (device, event) push: stable across retries (apns-id, FCM data.pushId, vivo requestId…). */
  id: string;
  purpose: PushPurpose;
  /** `voip`: a call ring (PushKit on iOS); `background`: no visible notification (badge updates, call-over on some vendors). */
  kind: 'alert' | 'voip' | 'background';
  priority: 'high' | 'normal';
  /** Unix seconds after which the vendor should drop it. */
  expiresAt?: number;
  /** Same id replaces the earlier notification (apns-collapse-id, collapse_key, notify_id, Topic). */
  collapseId?: string;
  title?: string;
  body?: string;
  badge?: number;
  sound?: string;
  /** Lets an iOS notification-service extension rewrite the alert; ignored elsewhere. */
  mutableContent?: boolean;
  /** Click-through and custom keys; values are strings on every vendor. */
  data: Record<string, string>;
}

export type PushOutcome =
  | { status: 'delivered'; vendorId?: string; httpStatus?: number }
  | { status: 'retry'; reason: string; httpStatus?: number; retryAfterMs?: number }
  | { status: 'dead_token'; reason: string; httpStatus?: number }
  // wrong environment/topic, bad credential: surface to operators, never prune the token
  | { status: 'config_error'; reason: string; httpStatus?: number }
  // permanent payload/request error for this message
  | { status: 'rejected'; reason: string; httpStatus?: number };

/** A configured credential of one vendor, ready to send. */
export interface PushProvider {
  /** The credential name. */
  readonly name: string;
  /** Never throws: every failure is a PushOutcome. */
  send(target: PushTarget, message: PushMessage): Promise<PushOutcome>;
  close(): Promise<void>;
}

/**
 * Small durable key/value state a vendor keeps across restarts (vivo caps auth calls per day,
 * so its day-long token is worth keeping). Values are opaque strings; entries expire.
 */
export interface VendorStateStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, expiresAt: number): Promise<void>;
}

export interface VendorDeps {
  /** Structured log sink; entries must never contain secrets. */
  log(entry: Record<string, unknown>): void;
  state: VendorStateStore;
  now(): number;
}

/**
 * The vendor-shaped request a push would produce, without sending it (sandbox, docs, tests).
 * Either failure is what the real provider answers as `rejected` with the same reason:
 * `payload_too_large` (custom data alone exceeds the vendor's limit) or `not_supported` (this
 * vendor cannot send this kind of push at all, e.g. a background push on OPPO or vivo).
 */
export type PreviewResult =
  | { ok: true; request: Record<string, unknown>; truncated: boolean }
  | { ok: false; reason: 'payload_too_large' }
  | { ok: false; reason: 'not_supported'; detail: string };

/** One kind of token a device can register with this vendor. */
export interface RegistrationKind {
  /** The `provider` value in push_register; unique across vendors. */
  name: string;
  /** The token as a device sends it: a string, or an object (a Web Push subscription). */
  tokenSchema: TSchema;
  /** The stored form of a valid token: the string itself, or canonical JSON of an object. */
  storedToken(token: unknown): string;
  /**
   * Carrier choice per device (one push per event and device): among the registrations of a device
   * that can carry a push, the highest priority wins (OEM channels over FCM).
   */
  priority: number;
  /** Which pushes this registration carries; `apns-voip` carries only call rings. */
  carries(purpose: PushPurpose): boolean;
  /** A VoIP channel (PushKit): a call ring sent through it is a VoIP push rather than an alert. */
  voip?: boolean;
  /**
   * Registration fields beyond the token (APNs `environment` and `topic`), validated and
   * normalised; throws RegistrationError for a value this vendor refuses.
   */
  options(fields: { environment?: string | undefined; topic?: string | undefined }): Record<string, string>;
}

export interface PushVendor<Credential = unknown> {
  /** The credential `type` in the config (`push.credentials.<name>.type`). */
  readonly type: string;
  /** TypeBox schema of one credential (including `type`), checked with the rest of the config. */
  readonly credentialSchema: TSchema;
  /** Checks the schema cannot express (files exist, one of two fields); throws CredentialConfigError naming the setting. */
  checkCredential?(name: string, credential: Credential): void;
  readonly registrations: readonly RegistrationKind[];
  create(name: string, credential: Credential, deps: VendorDeps): PushProvider;
  /**
   * Exactly what `create(name, credential).send` would put on the wire for this push, built
   * offline, secrets and device tokens redacted. `credential` is the configured credential of
   * `target.credential` when there is one (the sandbox with `push.credentials` set); without it
   * the credential's fields show as placeholders naming their setting.
   */
  preview(target: PushTarget, message: PushMessage, now: number, credential?: Credential): PreviewResult;
}

/** Thrown at startup for malformed credentials config; never carries secret values. */
export class CredentialConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialConfigError';
  }
}

/** A registration field a vendor refuses (becomes `push_token_invalid` on the wire). */
export class RegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistrationError';
  }
}

export const CREDENTIAL_NAME_RE = /^[A-Za-z0-9._-]{1,32}$/;

/**
 * A provider whose implementation module is imported on first send, so that loading the registry
 * (config validation, every CLI command) does not load every vendor's SDK.
 */
export function lazyProvider(name: string, load: () => Promise<PushProvider>): PushProvider {
  let loading: Promise<PushProvider> | undefined;
  let closed = false;
  return {
    name,
    async send(target, message) {
      if (closed) return { status: 'retry', reason: 'provider closed' };
      loading ??= load();
      let provider: PushProvider;
      try {
        provider = await loading;
      } catch (error) {
        return { status: 'config_error', reason: `credential "${name}": ${error instanceof Error ? error.message : String(error)}` };
      }
      return provider.send(target, message);
    },
    async close() {
      closed = true;
      if (loading) await (await loading.catch(() => undefined))?.close();
    },
  };
}
