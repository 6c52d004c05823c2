// Wire-faithful fake of the Xiaomi MiPush server API on HTTPS 127.0.0.1:
//   POST /v3/message/regid and /v2/message/regid   (form body, `Authorization: key=<AppSecret>`)
// Codes and bodies follow /work/shared/spec/vendor-push-apis.md §1.3, written out here instead of
// imported from push/vendors/xiaomi/ so the provider is tested against an independent model.
// unverified: MiPush answers errors with HTTP 200 and `result: "error"` in this model; which code a
// too-long title gets (65009 here) is not documented in the pages we have.

import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, replyAfter, retryAfterHeader, serveOnLoopback } from './http-fake.ts';
import { serverTls } from './tls.ts';

export interface FakeXiaomiApp {
  appSecret: string;
  /** Package names this AppSecret may push to (restricted_package_name). */
  packageNames: string[];
}

export interface FakeXiaomiOptions {
  /** Keep received/rejected lists (default true); a load run turns it off and reads `counts`. */
  record?: boolean;
  apps: FakeXiaomiApp[];
  latencyMs?: number;
  port?: number;
}

export interface ReceivedXiaomiMessage {
  path: string;
  /** The parsed form, field by field (extra.* keys as sent). */
  fields: Record<string, string>;
  headers: IncomingMessage['headers'];
  messageId: string;
  receivedAt: number;
}

export interface RejectedXiaomiRequest {
  path: string;
  httpStatus: number;
  code: number | undefined;
  description: string;
  fields: Record<string, string> | undefined;
  receivedAt: number;
}

export interface FakeXiaomiFailure {
  code: number;
  description?: string;
  reason?: string;
  httpStatus?: number;
  retryAfterSec?: number;
}

export interface FakeXiaomiControl {
  /** Registration ids MiPush no longer knows (20301 when all are, bad_regids when some are). */
  deadTokens: Set<string>;
  /** Every send answers 10034 (daily quota exceeded). */
  quotaExceeded: boolean;
  /** The next n sends answer this (e.g. { code: 10027 } too frequent, { code: 0, httpStatus: 503 }). */
  failNext(n: number, failure: FakeXiaomiFailure): void;
  latencyMs: number;
  reset(): void;
}

export interface FakeXiaomi {
  url: string;
  host: string;
  port: number;
  ca: string;
  counts: { accepted: number; rejected: number };
  received: ReceivedXiaomiMessage[];
  rejected: RejectedXiaomiRequest[];
  control: FakeXiaomiControl;
  close(): Promise<void>;
}

const MAX_REGIDS = 1000;
const DESCRIPTIONS: Record<number, string> = {
  10016: '缺少参数',
  10017: '非法参数',
  10027: '调用API太频繁',
  10034: '今日消息数量超限',
  20301: '发送消息失败',
  21301: '认证失败',
  22022: '包名不合法',
  65009: '内容过长',
};

const traceId = (): string => `Xcm${randomBytes(10).toString('hex')}`;

export async function startXiaomiFake(opts: FakeXiaomiOptions): Promise<FakeXiaomi> {
  const tls = await serverTls();
  const secrets = new Map(opts.apps.map((a) => [a.appSecret, new Set(a.packageNames)]));
  const record = opts.record ?? true;
  const counts = { accepted: 0, rejected: 0 };
  const received: ReceivedXiaomiMessage[] = [];
  const rejected: RejectedXiaomiRequest[] = [];
  const failures: FakeXiaomiFailure[] = [];
  const control: FakeXiaomiControl = {
    deadTokens: new Set(),
    quotaExceeded: false,
    failNext(n, failure) { for (let i = 0; i < n; i++) failures.push({ ...failure }); },
    latencyMs: opts.latencyMs ?? 0,
    reset() {
      this.deadTokens.clear();
      this.quotaExceeded = false;
      this.latencyMs = opts.latencyMs ?? 0;
      failures.length = 0;
    },
  };

  const reply = (res: ServerResponse, httpStatus: number, body: unknown, headers: Record<string, string> = {}): void =>
    replyAfter(res, control.latencyMs, httpStatus, body, headers);

  function handleSend(req: IncomingMessage, res: ServerResponse, path: string, text: string): void {
    const receivedAt = Date.now();
    let fields: Record<string, string> | undefined;
    const reject = (code: number, reason: string, extra: { httpStatus?: number; description?: string; retryAfterSec?: number } = {}): void => {
      const httpStatus = extra.httpStatus ?? 200;
      const description = extra.description ?? DESCRIPTIONS[code] ?? '错误';
      counts.rejected++;
      if (record) rejected.push({ path, httpStatus, code, description, fields, receivedAt });
      reply(res, httpStatus, { result: 'error', reason, trace_id: traceId(), code, description }, retryAfterHeader(extra.retryAfterSec));
    };

    // Auth: exactly `key=<AppSecret>`, lower-case `key`.
    const m = /^key=(.+)$/.exec(String(req.headers.authorization ?? ''));
    const packages = m?.[1] ? secrets.get(m[1]) : undefined;
    if (!packages) return reject(21301, 'Invalid appSecret');
    if (!/^application\/x-www-form-urlencoded\b/i.test(String(req.headers['content-type'] ?? ''))) return reject(10017, 'Content-Type must be application/x-www-form-urlencoded');
    fields = Object.fromEntries(new URLSearchParams(text));

    const injected = failures.shift();
    if (injected) {
      return reject(injected.code, injected.reason ?? 'injected failure', {
        ...(injected.httpStatus !== undefined ? { httpStatus: injected.httpStatus } : {}),
        ...(injected.description !== undefined ? { description: injected.description } : {}),
        ...(injected.retryAfterSec !== undefined ? { retryAfterSec: injected.retryAfterSec } : {}),
      });
    }
    if (control.quotaExceeded) return reject(10034, 'Exceeded the daily quota of push messages');

    const pkg = fields.restricted_package_name;
    if (pkg === undefined || pkg === '') return reject(10016, 'restricted_package_name is required');
    if (!pkg.split(',').every((p) => packages.has(p))) return reject(22022, `Invalid restricted_package_name: ${pkg}`);
    const regids = (fields.registration_id ?? '').split(',').filter((r) => r !== '');
    if (regids.length === 0) return reject(10016, 'registration_id is required');
    if (regids.length > MAX_REGIDS) return reject(10017, 'too many registration ids');
    const passThrough = fields.pass_through ?? '0';
    if (passThrough !== '0' && passThrough !== '1') return reject(10017, 'pass_through must be 0 or 1');
    if (passThrough === '0') {
      if (!fields.title) return reject(10016, 'title is required');
      if (!fields.description) return reject(10016, 'description is required');
      if (fields.title.length >= 50) return reject(65009, 'title is too long');
      if (fields.description.length >= 128) return reject(65009, 'description is too long');
    } else if (fields.payload === undefined || fields.payload === '') {
      return reject(10016, 'payload is required for a pass-through message');
    }
    const int = (name: string, min: number, max: number): boolean => {
      const v = fields![name];
      return v === undefined || (/^-?\d+$/.test(v) && Number(v) >= min && Number(v) <= max);
    };
    if (!int('notify_type', -1, 7)) return reject(10017, 'notify_type is illegal');
    if (!int('notify_id', 0, 0x7fffffff)) return reject(10017, 'notify_id is illegal');
    if (!int('time_to_live', 1, 14 * 86_400_000)) return reject(10017, 'time_to_live is illegal');
    const fg = fields['extra.notify_foreground'];
    if (fg !== undefined && fg !== '0' && fg !== '1') return reject(10017, 'extra.notify_foreground must be 0 or 1');
    const effect = fields['extra.notify_effect'];
    if (effect !== undefined && !['1', '2', '3'].includes(effect)) return reject(10017, 'extra.notify_effect is illegal');
    if (effect === '2' && !fields['extra.intent_uri']) return reject(10016, 'extra.intent_uri is required when notify_effect is 2');
    if (effect === '3' && !fields['extra.web_uri']) return reject(10016, 'extra.web_uri is required when notify_effect is 3');

    const bad = regids.filter((r) => control.deadTokens.has(r));
    if (bad.length === regids.length) return reject(20301, 'No valid targets!');
    const messageId = `scm${randomBytes(10).toString('hex')}`;
    counts.accepted++;
    if (record) received.push({ path, fields, headers: { ...req.headers }, messageId, receivedAt });
    reply(res, 200, {
      result: 'ok',
      trace_id: traceId(),
      code: 0,
      data: { id: messageId, ...(bad.length > 0 ? { bad_regids: bad.join(',') } : {}) },
      description: '成功',
      info: `Received push messages for ${regids.length - bad.length} REGID`,
    });
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req: IncomingMessage, res: ServerResponse) => {
    void readBody(req, { maxBytes: 1 << 20, onBroken: 'drop' }).then((text) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method === 'POST' && (path === '/v3/message/regid' || path === '/v2/message/regid')) return handleSend(req, res, path, text);
      counts.rejected++;
      if (record) rejected.push({ path, httpStatus: 404, code: undefined, description: 'Not Found', fields: undefined, receivedAt: Date.now() });
      reply(res, 404, 'Not Found');
    });
  });

  const { port, url, close } = await serveOnLoopback(server, opts.port);
  return {
    url,
    host: '127.0.0.1',
    port,
    ca: tls.ca,
    counts,
    received,
    rejected,
    control,
    close,
  };
}
