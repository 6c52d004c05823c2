// Dev/test provider: builds the same vendor-shaped payload the real providers
// would send (so payload bugs show up without vendor credentials) and keeps
// the last N in memory for the server to list. Nothing leaves the process.

import type { PushMessage, PushOutcome, PushProvider, PushTarget } from '../types.ts';
import { buildApnsRequest, type ApnsRequest } from '../apns/apns-payload.ts';
import { buildFcmMessage } from '../fcm/fcm-payload.ts';
import type { TokenMessage } from 'firebase-admin/messaging';

export type SandboxPayload =
  | { vendor: 'apns'; headers: ApnsRequest['headers']; payload: ApnsRequest['payload']; truncated: boolean }
  | { vendor: 'fcm'; message: TokenMessage; truncated: boolean };

export interface SandboxRecord {
  seq: number;
  vendorId: string;
  at: number; // ms since epoch
  target: PushTarget;
  messageId: string;
  kind: PushMessage['kind'];
  payload: SandboxPayload;
}

export interface SandboxProviderOptions {
  /** Ring size; oldest records are dropped first. */
  max?: number;
  /** Topic used for APNs targets without one (there is no credential config in sandbox mode). */
  defaultApnsTopic?: string;
  now?: () => number;
}

export class SandboxProvider implements PushProvider {
  readonly name = 'sandbox';
  readonly max: number;
  private readonly defaultApnsTopic: string;
  private readonly now: () => number;
  private readonly ring: (SandboxRecord | undefined)[];
  private next = 0; // total pushes recorded so far; also the next slot index modulo max

  constructor(opts: SandboxProviderOptions = {}) {
    const max = opts.max ?? 1000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('sandbox max must be a positive integer');
    this.max = max;
    this.defaultApnsTopic = opts.defaultApnsTopic ?? 'dev.tidings.sandbox';
    this.now = opts.now ?? Date.now;
    this.ring = new Array<SandboxRecord | undefined>(max);
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    const at = this.now();
    let payload: SandboxPayload;
    if (target.provider === 'fcm') {
      const built = buildFcmMessage(target, message, at);
      // Mirror the real providers so dev mode surfaces oversize custom data too.
      if (!built.ok) return { status: 'rejected', reason: 'payload_too_large' };
      payload = { vendor: 'fcm', message: built.message, truncated: built.truncated };
    } else {
      const built = buildApnsRequest(target, message, this.defaultApnsTopic);
      if (!built.ok) return { status: 'rejected', reason: 'payload_too_large' };
      const { headers, payload: body, truncated } = built.request;
      payload = { vendor: 'apns', headers, payload: body, truncated };
    }
    const seq = ++this.next;
    const vendorId = `sandbox-${seq}`;
    this.ring[(seq - 1) % this.max] = {
      seq,
      vendorId,
      at,
      target: { ...target },
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

/** Process-wide instance used by createProviders() unless one is passed in. */
export const sandboxProvider = new SandboxProvider();
