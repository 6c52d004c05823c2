// Dev/test provider: records the same vendor-shaped request the real provider
// would send (each vendor's preview(), so payload bugs show up without vendor
// credentials) and keeps the last N in memory for the server to list. Nothing
// leaves the process.

import type { PushMessage, PushOutcome, PushProvider, PushTarget } from '../contract.ts';
import { registrationKind } from '../registry.ts';

/** `vendor` is the vendor's type; the other fields are that vendor's request (e.g. APNs `headers` + `payload`, FCM `message`). */
export type SandboxPayload = { vendor: string; truncated: boolean } & Record<string, unknown>;

/** The target as a device registered it: `provider` (the registration kind), token, credential and the vendor's fields. */
export type SandboxTarget = { provider: string; token: string; credential: string } & Record<string, string>;

export interface SandboxRecord {
  seq: number;
  vendorId: string;
  at: number; // ms since epoch
  target: SandboxTarget;
  messageId: string;
  kind: PushMessage['kind'];
  payload: SandboxPayload;
}

/** The configured credential of a name, if any (push.sandbox with push.credentials set). */
export type CredentialLookup = (name: string) => ({ type: string } & Record<string, unknown>) | undefined;

export interface SandboxProviderOptions {
  /** Ring size; oldest records are dropped first. */
  max?: number;
  now?: () => number;
  credentials?: CredentialLookup;
}

export class SandboxProvider implements PushProvider {
  readonly name = 'sandbox';
  readonly max: number;
  private readonly now: () => number;
  private readonly ring: (SandboxRecord | undefined)[];
  private credentials: CredentialLookup;
  private next = 0; // total pushes recorded so far; also the next slot index modulo max

  constructor(opts: SandboxProviderOptions = {}) {
    const max = opts.max ?? 1000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('sandbox max must be a positive integer');
    this.max = max;
    this.now = opts.now ?? Date.now;
    this.ring = new Array<SandboxRecord | undefined>(max);
    this.credentials = opts.credentials ?? (() => undefined);
  }

  /** Preview with these credentials (createProviders hands over the configured ones). */
  useCredentials(lookup: CredentialLookup): void {
    this.credentials = lookup;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    const at = this.now();
    const registered = registrationKind(target.registration);
    if (!registered) return { status: 'config_error', reason: `unknown registration kind ${target.registration}` };
    // The configured credential, when it is this vendor's: the record shows its real fields.
    const configured = this.credentials(target.credential);
    const credential = configured?.type === registered.vendor.type ? configured : undefined;
    const built = registered.vendor.preview(target, message, at, credential as never);
    // Mirror the real providers so dev mode surfaces oversize custom data and unsupported kinds too.
    if (!built.ok) return { status: 'rejected', reason: built.reason === 'not_supported' ? `not_supported: ${built.detail}` : 'payload_too_large' };
    const payload: SandboxPayload = { vendor: registered.vendor.type, ...built.request, truncated: built.truncated };
    const seq = ++this.next;
    const vendorId = `sandbox-${seq}`;
    this.ring[(seq - 1) % this.max] = {
      seq,
      vendorId,
      at,
      target: { ...target.options, provider: target.registration, token: target.token, credential: target.credential },
      messageId: message.id,
      kind: message.kind,
      payload,
    };
    return { status: 'delivered', vendorId };
  }

  /** Recorded pushes, oldest first; `limit` keeps only the newest N. */
  list(limit?: number): SandboxRecord[] {
    const count = Math.min(this.next, this.max);
    const out: SandboxRecord[] = [];
    for (let seq = this.next - count + 1; seq <= this.next; seq++) {
      const rec = this.ring[(seq - 1) % this.max];
      if (rec) out.push(rec);
    }
    return limit !== undefined && limit >= 0 ? out.slice(Math.max(0, out.length - limit)) : out;
  }

  /** Total pushes ever recorded (including ones evicted from the ring). */
  get total(): number {
    return this.next;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.next = 0;
  }

  async close(): Promise<void> {
    // Nothing to release; records stay listable after the registry shuts down.
  }
}
