/**
 * Where push accounting gets its facts. With the server this tool starts: the fake APNs/FCM
 * child (every push the vendors accepted, with its token, message id and receive time). Against
 * `--url`: only what the admin API exposes — `GET /admin/pushes` (the sandbox ring, when the
 * server runs in sandbox mode) and `GET /admin/push-jobs` (the outbox).
 */
import type { PushJob } from '../../storage/index.ts';

export interface PushRecord {
  vendor: 'apns' | 'fcm';
  token: string;
  /** apns-id header (APNs) or data.pushId (FCM): one per (registration, event) on the server. */
  apnsId: string;
  messageId?: string;
  eventId?: number;
  callId?: string;
  /** Data `type` of call pushes (`call_ring`, `missed_call`); absent for message pushes. */
  type?: string;
  receiver?: string;
  receivedAt: number;
}

/** The fields of a `GET /admin/push-jobs` row (a PushJob as JSON) that accounting reads. */
export type OutboxJob = Pick<PushJob, 'jobKey' | 'pushId' | 'userId' | 'deviceId' | 'eventId' | 'seq' | 'idempotencyKey' | 'state' | 'attempts' | 'lastReason'>;

export interface PushSource {
  readonly kind: 'fake-vendors' | 'admin-sandbox' | 'none';
  /** Whether `records` carries vendor receive times (needed for "pushed to an online device"). */
  readonly timestamps: boolean;
  readonly records: PushRecord[];
  /** Whether `records` holds every push the server sent (so "not in records" means not sent). */
  readonly complete: boolean;
  /** Records the source could not see (sandbox ring overflow between polls). */
  missed: number;
  note: string | undefined;
  poll(): Promise<void>;
  summary(): Promise<Record<string, unknown>>;
}

async function getJson(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

export class FakeVendorSource implements PushSource {
  readonly kind = 'fake-vendors' as const;
  readonly timestamps = true;
  readonly complete = true;
  readonly records: PushRecord[] = [];
  missed = 0;
  note: string | undefined;
  readonly #controlUrl: string;

  constructor(controlUrl: string) {
    this.#controlUrl = controlUrl;
  }

  async poll(): Promise<void> {
    const { body } = await getJson(`${this.#controlUrl}/pushes?from=${this.records.length}`);
    const { records } = body as { total: number; records: PushRecord[] };
    for (const r of records) this.records.push(r);
  }

  async summary(): Promise<Record<string, unknown>> {
    return (await getJson(`${this.#controlUrl}/counts`)).body as Record<string, unknown>;
  }
}

interface SandboxRecord {
  seq: number;
  at: number;
  target: { provider: string; token: string };
  messageId: string;
  payload: { vendor: 'apns'; payload: Record<string, unknown> } | { vendor: 'fcm'; message: { token: string; data?: Record<string, string> } };
}

export class AdminSandboxSource implements PushSource {
  readonly kind = 'admin-sandbox' as const;
  readonly timestamps = true;
  readonly records: PushRecord[] = [];
  missed = 0;
  note: string | undefined;
  #lastSeq = 0;
  #limit = 500;
  #disabled = false;
  readonly #httpUrl: string;
  readonly #auth: Record<string, string>;

  constructor(httpUrl: string, adminSecret: string) {
    this.#httpUrl = httpUrl;
    this.#auth = { authorization: `Bearer ${adminSecret}` };
  }

  get complete(): boolean {
    return !this.#disabled && this.missed === 0;
  }

  async poll(): Promise<void> {
    if (this.#disabled) return;
    const { status, body } = await getJson(`${this.#httpUrl}/admin/pushes?limit=${this.#limit}`, this.#auth);
    if (status === 404) {
      this.#disabled = true;
      this.note = 'the server is not in push sandbox mode (GET /admin/pushes answers 404): pushes are checked against the outbox only';
      return;
    }
    if (status !== 200) throw new Error(`GET /admin/pushes: HTTP ${status}`);
    const pushes = (body as { pushes: SandboxRecord[] }).pushes;
    const fresh = pushes.filter((p) => p.seq > this.#lastSeq);
    // Each poll returns the newest `limit` records: ask for about twice what the last poll brought.
    this.#limit = Math.min(10_000, Math.max(200, fresh.length * 2 + 100));
    if (fresh.length > 0 && this.#lastSeq > 0 && fresh[0]!.seq > this.#lastSeq + 1) this.missed += fresh[0]!.seq - this.#lastSeq - 1;
    for (const p of fresh) {
      const data: Record<string, unknown> = p.payload.vendor === 'apns' ? p.payload.payload : (p.payload.message.data ?? {});
      const eventId = Number(data.eventId);
      this.records.push({
        vendor: p.payload.vendor, token: p.target.token, apnsId: String(p.messageId).toLowerCase(),
        ...(typeof data.messageId === 'string' ? { messageId: data.messageId } : {}),
        ...(Number.isFinite(eventId) ? { eventId } : {}),
        ...(typeof data.callId === 'string' ? { callId: data.callId } : {}),
        ...(typeof data.type === 'string' ? { type: data.type } : {}),
        ...(typeof data.receiver === 'string' ? { receiver: data.receiver } : {}),
        receivedAt: p.at,
      });
      this.#lastSeq = p.seq;
    }
  }

  async summary(): Promise<Record<string, unknown>> {
    return { sandboxRecords: this.records.length, missedBetweenPolls: this.missed };
  }
}

/** The admin API of the server under load: outbox rows, health, metrics. */
export class AdminApi {
  readonly httpUrl: string;
  readonly #auth: Record<string, string>;

  constructor(httpUrl: string, adminSecret: string) {
    this.httpUrl = httpUrl;
    this.#auth = { authorization: `Bearer ${adminSecret}` };
  }

  async jobs(query: { user?: string; device?: string; state?: string; limit?: number }): Promise<OutboxJob[]> {
    const params = new URLSearchParams();
    if (query.user) params.set('user', query.user);
    if (query.device) params.set('device', query.device);
    if (query.state) params.set('state', query.state);
    params.set('limit', String(query.limit ?? 1000));
    const { status, body } = await getJson(`${this.httpUrl}/admin/push-jobs?${params}`, this.#auth);
    if (status !== 200) throw new Error(`GET /admin/push-jobs: HTTP ${status}`);
    return (body as { jobs: OutboxJob[] }).jobs;
  }

  /** Check the admin secret works (401/404 otherwise). */
  async check(): Promise<void> {
    const { status } = await getJson(`${this.httpUrl}/admin/push-jobs?limit=1`, this.#auth);
    if (status !== 200) throw new Error(`the admin API answered HTTP ${status} (is --admin-secret right, and admin.secret set on the server?)`);
  }

  async sessions(): Promise<number | undefined> {
    try {
      const { status, body } = await getJson(`${this.httpUrl}/healthz`, {}, 5000);
      return status === 200 ? Number((body as { sessions: number }).sessions) : undefined;
    } catch {
      return undefined;
    }
  }

  /** `tidings_process_resident_memory_bytes` from /metrics. */
  async rssBytes(): Promise<number | undefined> {
    try {
      const res = await fetch(`${this.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      const m = /^tidings_process_resident_memory_bytes\s+([0-9.e+]+)/m.exec(text);
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }
}

export const NO_PUSH_SOURCE: PushSource = {
  kind: 'none', timestamps: false, complete: false, records: [], missed: 0, note: undefined,
  async poll() {},
  async summary() {
    return {};
  },
};
