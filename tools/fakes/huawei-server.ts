// Wire-faithful fake of Huawei Push Kit (Android, server API v1) and its OAuth token endpoint, on
// HTTPS 127.0.0.1. One port serves both:
//   POST /oauth2/v3/token (and the older /oauth2/v2/token)   client_credentials grant
//   POST /v1/{appId}/messages:send                            the push API
// Codes and bodies follow /work/shared/spec/vendor-push-apis.md §1.1. They are written out here
// on purpose instead of importing push/vendors/huawei/huawei-facts.ts: the fake is an independent
// model of the vendor, so a wrong fact in the provider makes a test fail instead of agreeing.

import { randomInt } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, replyAfter, retryAfterHeader, serveOnLoopback } from './http-fake.ts';
import { FakeOAuthIssuer, oauthFakeControl, type OAuthAnswers, type OAuthFakeControl, type OAuthGrantRecord } from './oauth-fake.ts';
import { serverTls } from './tls.ts';

export interface FakeHuaweiApp {
  appId: string;
  appSecret: string;
  /** OAuth client_id when it differs from the App ID. */
  clientId?: string;
}

export interface FakeHuaweiOptions {
  /** Keep received/rejected lists (default true); a load run turns it off and reads `counts`. */
  record?: boolean;
  apps: FakeHuaweiApp[];
  /** Access token lifetime; Huawei's is 3600 s. */
  tokenTtlSec?: number;
  latencyMs?: number;
  port?: number;
}

export interface ReceivedHuaweiMessage {
  appId: string;
  /** The whole parsed request body ({ validate_only, message }). */
  body: Record<string, unknown>;
  message: Record<string, unknown>;
  headers: IncomingMessage['headers'];
  accessToken: string;
  requestId: string;
  receivedAt: number;
}

export interface RejectedHuaweiRequest {
  path: string;
  httpStatus: number;
  /** Huawei result code ("80200003", …); undefined for bare HTTP failures. */
  code: string | undefined;
  msg: string;
  body: unknown;
  receivedAt: number;
}

export interface FakeHuaweiFailure {
  httpStatus: number;
  code?: string;
  msg?: string;
  retryAfterSec?: number;
}

/**
 * deadTokens answer 80300007 when all of a request's tokens are dead, 80100000 + illegal_tokens
 * when some are; expired access tokens answer 80200003; failNext takes e.g. 503 + Retry-After,
 * or 200 with code 81000001.
 */
export type FakeHuaweiControl = OAuthFakeControl<FakeHuaweiFailure>;

export interface FakeHuawei {
  url: string;
  authUrl: string;
  host: string;
  port: number;
  ca: string;
  counts: { accepted: number; rejected: number };
  received: ReceivedHuaweiMessage[];
  rejected: RejectedHuaweiRequest[];
  tokenRequests: OAuthGrantRecord[];
  control: FakeHuaweiControl;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4096; // 80300008
const MAX_TOKENS = 1000; // 80300010
const CATEGORIES = new Set(['IM', 'VOIP', 'SUBSCRIPTION', 'TRAVEL', 'HEALTH', 'WORK', 'ACCOUNT', 'EXPRESS', 'FINANCE', 'DEVICE_REMINDER', 'MAIL', 'PLAY_VOICE', 'MARKETING']);
const TTL_RE = /^\d+(\.\d{1,9})?[sS]?$/;

// unverified: Huawei's OAuth error bodies. Third-party reports show numeric `error` values with a
// `sub_error` and `error_description`; the HTTP statuses here are our model.
const HUAWEI_OAUTH: OAuthAnswers = {
  success: (accessToken, ttlSec) => ({ access_token: accessToken, expires_in: ttlSec, token_type: 'Bearer' }),
  refusal(kind) {
    switch (kind) {
      case 'wrong_secret': return { httpStatus: 401, body: { error: 1102, sub_error: 20003, error_description: 'invalid client secret' } };
      case 'unknown_client': return { httpStatus: 401, body: { error: 1102, sub_error: 20001, error_description: 'invalid client' } };
      case 'unsupported_grant_type': return { httpStatus: 400, body: { error: 1101, sub_error: 20004, error_description: 'unsupported grant_type' } };
      default: return { httpStatus: 400, body: { error: 1101, sub_error: 20000, error_description: 'invalid request' } };
    }
  },
};

function requestIdOf(): string {
  return `${Date.now()}${String(randomInt(0, 1e9)).padStart(9, '0')}`;
}

type Failure = { httpStatus: number; code: string; msg: string };
const fail = (httpStatus: number, code: string, msg: string): Failure => ({ httpStatus, code, msg });

/** The checks Huawei applies to a message, in the order a gateway meets them. */
function validateMessage(message: Record<string, unknown>): Failure | undefined {
  const targets = ['token', 'topic', 'condition'].filter((k) => message[k] !== undefined);
  if (targets.length !== 1) return fail(400, '80100001', 'Exactly one of token, topic, condition is required');
  if (message.token !== undefined) {
    const tokens = message.token;
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string' && t !== '')) return fail(400, '80100001', 'token must be an array of strings');
    if (tokens.length < 1 || tokens.length > MAX_TOKENS) return fail(400, '80300010', 'The number of tokens in the message body exceeds the default value');
  }
  if (message.data !== undefined && typeof message.data !== 'string') return fail(400, '80100003', 'Incorrect message structure: data must be a string');
  const android = message.android;
  if (android === undefined) return undefined;
  if (typeof android !== 'object' || android === null) return fail(400, '80100003', 'Incorrect message structure: android');
  const a = android as Record<string, unknown>;
  if (a.urgency !== undefined && a.urgency !== 'HIGH' && a.urgency !== 'NORMAL') return fail(400, '80100001', 'urgency must be HIGH or NORMAL');
  if (a.ttl !== undefined && (typeof a.ttl !== 'string' || !TTL_RE.test(a.ttl))) return fail(400, '80100001', 'ttl format error');
  if (a.collapse_key !== undefined && (!Number.isInteger(a.collapse_key) || (a.collapse_key as number) < -1 || (a.collapse_key as number) > 100)) {
    return fail(400, '80100013', 'Incorrect collapse_key');
  }
  if (a.category !== undefined && (typeof a.category !== 'string' || !CATEGORIES.has(a.category))) return fail(400, '80100001', 'Illegal category');
  if (a.data !== undefined && typeof a.data !== 'string') return fail(400, '80100003', 'Incorrect message structure: android.data must be a string');
  if (a.notification === undefined) return undefined;
  const n = a.notification as Record<string, unknown> | null;
  if (typeof n !== 'object' || n === null) return fail(400, '80100003', 'Incorrect message structure: android.notification');
  const top = (message.notification ?? {}) as Record<string, unknown>;
  const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v !== '';
  if (!nonEmpty(n.title) && !nonEmpty(top.title)) return fail(400, '80100003', 'title must not be empty');
  if (!nonEmpty(n.body) && !nonEmpty(top.body)) return fail(400, '80100003', 'body must not be empty');
  const click = n.click_action as Record<string, unknown> | undefined;
  if (typeof click !== 'object' || click === null) return fail(400, '80100003', 'click_action must not be null');
  switch (click.type) {
    case 1: if (!nonEmpty(click.intent) && !nonEmpty(click.action)) return fail(400, '80100003', 'intent or action is required when type is 1'); break;
    case 2: if (!nonEmpty(click.url)) return fail(400, '80100003', 'url is required when type is 2'); break;
    case 3: break;
    case 4: if (!nonEmpty(click.rich_resource)) return fail(400, '80100003', 'rich_resource is required when type is 4'); break;
    default: return fail(400, '80100003', 'click_action.type must be 1..4');
  }
  if (n.importance !== undefined && !['LOW', 'NORMAL', 'HIGH'].includes(String(n.importance))) return fail(400, '80100001', 'importance must be LOW, NORMAL or HIGH');
  if (n.notify_id !== undefined && (!Number.isInteger(n.notify_id) || (n.notify_id as number) < -1 || (n.notify_id as number) > 0x7fffffff)) {
    return fail(400, '80100001', 'notify_id must be an int');
  }
  if (n.notify_id !== undefined && nonEmpty(n.group)) return fail(400, '80100001', 'notify_id must be empty when group exists');
  if (n.badge !== undefined) {
    const b = n.badge as Record<string, unknown> | null;
    if (typeof b !== 'object' || b === null || !nonEmpty(b.class)) return fail(400, '80100003', 'badge.class is required');
    if (b.set_num !== undefined && (!Number.isInteger(b.set_num) || (b.set_num as number) < 0 || (b.set_num as number) > 99)) {
      return fail(400, '80100001', 'badge.set_num must be 0..99');
    }
  }
  return undefined;
}

export async function startHuaweiFake(opts: FakeHuaweiOptions): Promise<FakeHuawei> {
  const tls = await serverTls();
  const ttlDefault = opts.tokenTtlSec ?? 3600;
  const issuer = new FakeOAuthIssuer({
    clients: opts.apps.map((a) => ({ clientId: a.clientId ?? a.appId, clientSecret: a.appSecret, appId: a.appId })),
    ttlSec: ttlDefault,
    answers: HUAWEI_OAUTH,
  });
  const record = opts.record ?? true;
  const counts = { accepted: 0, rejected: 0 };
  const received: ReceivedHuaweiMessage[] = [];
  const rejected: RejectedHuaweiRequest[] = [];
  const failures: FakeHuaweiFailure[] = [];

  const control: FakeHuaweiControl = oauthFakeControl(issuer, failures, { latencyMs: opts.latencyMs ?? 0, tokenTtlSec: ttlDefault });

  const reply = (res: ServerResponse, httpStatus: number, body: unknown, headers: Record<string, string> = {}, delayMs = control.latencyMs): void =>
    replyAfter(res, delayMs, httpStatus, body, headers);

  function handleSend(req: IncomingMessage, res: ServerResponse, path: string, appId: string, text: string): void {
    const receivedAt = Date.now();
    let parsed: unknown = text;
    const reject = (f: Failure | (FakeHuaweiFailure & { code: string | undefined; msg: string }), headers: Record<string, string> = {}): void => {
      counts.rejected++;
      if (record) rejected.push({ path, httpStatus: f.httpStatus, code: f.code, msg: f.msg, body: parsed, receivedAt });
      const body = f.code !== undefined ? { code: f.code, msg: f.msg, requestId: requestIdOf() } : f.msg;
      reply(res, f.httpStatus, body, headers);
    };

    const auth = issuer.check(typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined);
    if (!auth.ok) {
      return auth.why === 'expired'
        ? reject(fail(401, '80200003', 'Oauth Token expired.'))
        : reject(fail(401, '80200001', 'Oauth authentication error'));
    }
    if (auth.token.appId !== appId) return reject(fail(401, '80200001', 'Oauth authentication error: the access token does not belong to this app'));

    const injected = failures.shift();
    if (injected) return reject({ ...injected, code: injected.code, msg: injected.msg ?? 'Service Unavailable' }, retryAfterHeader(injected.retryAfterSec));
    if (control.quotaExceeded) return reject({ httpStatus: 503, code: undefined, msg: 'flow control' }, retryAfterHeader(control.quotaRetryAfterSec));
    if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) return reject(fail(400, '80100001', 'Content-Type must be application/json'));
    if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) return reject(fail(400, '80300008', 'The message body size exceeds the default value'));
    try {
      parsed = JSON.parse(text);
    } catch {
      return reject(fail(400, '80100003', 'Incorrect message structure'));
    }
    const body = parsed as Record<string, unknown> | null;
    if (typeof body !== 'object' || body === null || typeof body.message !== 'object' || body.message === null) {
      return reject(fail(400, '80100003', 'Incorrect message structure'));
    }
    if (body.validate_only !== undefined && typeof body.validate_only !== 'boolean') return reject(fail(400, '80100001', 'validate_only must be a boolean'));
    const message = body.message as Record<string, unknown>;
    const invalid = validateMessage(message);
    if (invalid) return reject(invalid);

    const tokens = (message.token as string[] | undefined) ?? [];
    const dead = tokens.filter((t) => control.deadTokens.has(t));
    if (tokens.length > 0 && dead.length === tokens.length) return reject(fail(400, '80300007', 'All the tokens are invalid'));
    const requestId = requestIdOf();
    counts.accepted++;
    if (record) received.push({ appId, body, message, headers: { ...req.headers }, accessToken: auth.token.accessToken, requestId, receivedAt });
    if (dead.length > 0) {
      const msg = JSON.stringify({ success: tokens.length - dead.length, failure: dead.length, illegal_tokens: dead });
      return reply(res, 200, { code: '80100000', msg, requestId });
    }
    reply(res, 200, { code: '80000000', msg: 'Success', requestId });
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req: IncomingMessage, res: ServerResponse) => {
    void readBody(req, { maxBytes: 1 << 20, onBroken: 'drop' }).then((text) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method === 'POST' && (path === '/oauth2/v3/token' || path === '/oauth2/v2/token')) {
        const answer = issuer.handle(text, req.headers['content-type']);
        return reply(res, answer.httpStatus, answer.body, answer.headers, control.latencyMs + control.tokenLatencyMs);
      }
      const send = /^\/v1\/([^/]+)\/messages:send$/.exec(path);
      if (req.method === 'POST' && send?.[1]) return handleSend(req, res, path, decodeURIComponent(send[1]), text);
      counts.rejected++;
      if (record) rejected.push({ path, httpStatus: 404, code: undefined, msg: 'Not Found', body: text, receivedAt: Date.now() });
      reply(res, 404, 'Not Found');
    });
  });

  const { port, url, close } = await serveOnLoopback(server, opts.port);
  return {
    url,
    authUrl: `${url}/oauth2/v3/token`,
    host: '127.0.0.1',
    port,
    ca: tls.ca,
    counts,
    received,
    rejected,
    tokenRequests: issuer.grants,
    control,
    close,
  };
}
