// Vendor-neutral push provider contract. The push queue only ever sees these
// types; everything APNs/FCM specific stays inside push/providers/<vendor>/.

export type PushProviderKind = 'apns' | 'apns-voip' | 'fcm'; // what a device registers
export type ApnsEnvironment = 'development' | 'production';

export interface PushTarget {
  provider: PushProviderKind;
  token: string;
  credential: string; // name of a configured credential
  environment?: ApnsEnvironment; // APNs only; picks the endpoint (sandbox vs production)
  topic?: string; // APNs bundle id; for apns-voip the provider appends ".voip" if not present
}

export interface PushMessage {
  id: string; // idempotency key; a UUID — sent as `apns-id` to APNs, as data.pushId to FCM
  kind: 'alert' | 'voip' | 'background';
  priority: 'high' | 'normal';
  expiresAt?: number; // unix seconds (apns-expiration / android ttl)
  collapseId?: string; // apns-collapse-id / android collapse_key
  title?: string;
  body?: string;
  badge?: number;
  sound?: string;
  mutableContent?: boolean;
  data: Record<string, string>; // click-through and custom keys; APNs: top-level custom keys; FCM: `data`
}

export type PushOutcome =
  | { status: 'delivered'; vendorId?: string; httpStatus?: number }
  | { status: 'retry'; reason: string; httpStatus?: number; retryAfterMs?: number }
  | { status: 'dead_token'; reason: string; httpStatus?: number }
  // wrong environment/topic, bad credential: surface to operators, never prune the token
  | { status: 'config_error'; reason: string; httpStatus?: number }
  // permanent payload/request error for this message
  | { status: 'rejected'; reason: string; httpStatus?: number };

export interface PushProvider {
  readonly name: string;
  send(target: PushTarget, message: PushMessage): Promise<PushOutcome>;
  close(): Promise<void>;
}

export interface ProviderRegistry {
  /** Provider for a target's credential; throws UnknownCredentialError if the name is unknown. */
  forTarget(target: PushTarget): PushProvider;
  hasCredential(name: string): boolean;
  credentialNames(): string[];
  close(): Promise<void>;
}

export class UnknownCredentialError extends Error {
  readonly credential: string;
  constructor(credential: string) {
    super(`unknown push credential "${credential}"`);
    this.name = 'UnknownCredentialError';
    this.credential = credential;
  }
}

/** Thrown at startup for malformed credentials config; never carries secret values. */
export class CredentialConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialConfigError';
  }
}

export interface Endpoint {
  host: string;
  port: number;
}

export type ApnsAuthConfig =
  | { kind: 'token'; key?: string; keyFile?: string; keyId: string; teamId: string }
  | {
      kind: 'certificate';
      pfx?: string /* base64 */;
      pfxFile?: string;
      passphrase?: string;
      cert?: string;
      key?: string;
    };

export interface ApnsCredentialConfig {
  type: 'apns';
  topic: string; // bundle id
  auth: ApnsAuthConfig;
  endpoints?: { development?: Endpoint; production?: Endpoint };
  ca?: string;
  rejectUnauthorized?: boolean;
}

export interface FcmCredentialConfig {
  type: 'fcm';
  serviceAccount?: Record<string, unknown>;
  serviceAccountFile?: string;
  projectId?: string;
  /** Only for fakes/tests: every Google connection (OAuth2 + FCM) is redirected here. */
  endpoint?: { host: string; port: number; ca?: string };
}

export type CredentialConfig = ApnsCredentialConfig | FcmCredentialConfig;
export type CredentialsConfig = Record<string, CredentialConfig>; // names: 1..32 chars [A-Za-z0-9._-]

export const CREDENTIAL_NAME_RE = /^[A-Za-z0-9._-]{1,32}$/;
