/**
 * Where push accounting gets its facts. With the server this tool starts: the fake vendors'
 * child (every push APNs, FCM, Huawei, Honor, Xiaomi, OPPO, vivo and the Web Push service
 * accepted, with its token, idempotency key, message id and receive time). Against
 * `--url`: only what the admin API exposes — `GET /admin/pushes` (the sandbox ring, when the
 * server runs in sandbox mode) and `GET /admin/push-jobs` (the outbox).
 */
import type { PushJob } from '../../storage/index.ts';
import { metricsText } from './server-metrics.ts';

/** Every vendor the load tool's devices register with (the registration kinds, `apns-voip` aside). */
export type LoadVendor = 'apns' | 'fcm' | 'huawei' | 'honor' | 'xiaomi' | 'oppo' | 'vivo' | 'webpush';

export interface PushRecord {
  vendor: LoadVendor;
  /** The device token (Web Push: the subscription's id at the fake, the last path segment of its endpoint). */
  token: string;
  /**
   * The push's idempotency key as the vendor carries it, one per (registration, event) on the
   * server: apns-id (APNs), data.pushId (FCM, Huawei, Honor, Xiaomi), app_message_id (OPPO),
   * requestId (vivo), the payload's id (Web Push). The name is historical.
   */
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
  /** `vendor` and that vendor's previewed request (push/vendors/<vendor>/index.ts preview()). */
  payload: { vendor: LoadVendor } & Record<string, any>;
}

/** A JSON string or an object as an object ({} for anything else). */
export const objectOf = (value: unknown): Record<string, unknown> => {
  try {
    const v: unknown = typeof value === 'string' ? JSON.parse(value) : value;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

/** Our custom data inside a previewed request, per vendor (where the ids of the push are). */
function sandboxData(payload: SandboxRecord['payload']): Record<string, unknown> {
  switch (payload.vendor) {
    case 'apns': return objectOf(payload.payload);
    case 'fcm': return objectOf(payload.message?.data);
    case 'huawei': return objectOf(payload.body?.message?.data);
    case 'honor': return objectOf(payload.body?.data);
    case 'xiaomi': return objectOf(payload.body?.payload);
    case 'oppo': return objectOf(payload.form?.message?.notification?.action_parameters);
    case 'vivo': return objectOf(payload.body?.clientCustomMap);
    case 'webpush': return objectOf(payload.payload?.data);
  }
}

/** A Web Push subscription is stored as canonical JSON; the load tool knows it by its endpoint's last segment. */
function sandboxToken(target: SandboxRecord['target']): string {
  if (target.provider !== 'webpush') return target.token;
  const endpoint = String(objectOf(target.token).endpoint ?? '');
  return endpoint.split('/').pop() ?? endpoint;
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
      const data = sandboxData(p.payload);
      const eventId = Number(data.eventId);
      this.records.push({
        vendor: p.payload.vendor, token: sandboxToken(p.target), apnsId: String(p.messageId).toLowerCase(),
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

  /** prom-client's `process_resident_memory_bytes` under the server's `tidings_process_` prefix, from /metrics. */
  async rssBytes(): Promise<number | undefined> {
    const m = /^tidings_process_process_resident_memory_bytes\s+([0-9.e+]+)/m.exec((await metricsText(this.httpUrl)) ?? '');
    return m ? Number(m[1]) : undefined;
  }
}

export const NO_PUSH_SOURCE: PushSource = {
  kind: 'none', timestamps: false, complete: false, records: [], missed: 0, note: undefined,
  async poll() {},
  async summary() {
    return {};
  },
};
