// Wire-faithful fake of Honor Push and its token endpoint (a Keycloak realm), on HTTPS 127.0.0.1.
// One port serves:
//   POST /auth/realms/developer/protocol/openid-connect/token (and the short /auth/token)
//   POST /api/v1/{appId}/sendMessage   (needs `Authorization: Bearer …` and a `timestamp` header)
// Shapes follow /work/shared/spec/vendor-push-apis.md §1.2. Honor's response-code page was not
// available: the success body and the error codes below are our model (unverified: marked), kept
// independent of push/vendors/honor/ so the provider is tested against a model, not against itself.

import { randomInt } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, replyAfter, retryAfterHeader, serveOnLoopback } from './http-fake.ts';
import { FakeOAuthIssuer, oauthFakeControl, type OAuthAnswers, type OAuthFakeControl, type OAuthGrantRecord } from './oauth-fake.ts';
import { serverTls } from './tls.ts';

export interface FakeHonorApp {
  appId: string;
  clientId: string;
  clientSecret: string;
}

export interface FakeHonorOptions {
  /** Keep received/rejected lists (default true); a load run turns it off and reads `counts`. */
  record?: boolean;
  apps: FakeHonorApp[];
  tokenTtlSec?: number;
  latencyMs?: number;
  port?: number;
  /** Largest accepted clock difference of the `timestamp` header (unverified tolerance). */
  timestampSkewMs?: number;
}

export interface ReceivedHonorMessage {
  appId: string;
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
  accessToken: string;
  requestId: string;
  /** Tokens of the request answered as expired (`expireTokens`): accepted, never shown on a device. */
  expired: string[];
  receivedAt: number;
}

export interface RejectedHonorRequest {
  path: string;
  httpStatus: number;
  code: number | undefined;
  message: string;
  body: unknown;
  receivedAt: number;
}

export interface FakeHonorFailure {
  httpStatus: number;
  code?: number;
  message?: string;
  retryAfterSec?: number;
}

/** deadTokens are answered in `data.expireTokens` (unverified field). */
export interface FakeHonorControl extends OAuthFakeControl<FakeHonorFailure> {
  /** Largest accepted difference between the `timestamp` header and the fake's clock. */
  timestampSkewMs: number;
}

export interface FakeHonor {
  url: string;
  authUrl: string;
  host: string;
  port: number;
  ca: string;
  counts: { accepted: number; rejected: number };
  received: ReceivedHonorMessage[];
  rejected: RejectedHonorRequest[];
  tokenRequests: OAuthGrantRecord[];
  control: FakeHonorControl;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 4096; // unverified: Huawei's limit
const MAX_TOKENS = 1000;

// Keycloak's answers (Honor's IAM is a Keycloak realm: /auth/realms/<realm>/protocol/openid-connect/token).
const KEYCLOAK: OAuthAnswers = {
  success: (accessToken, ttlSec) => ({
    access_token: accessToken, expires_in: ttlSec, refresh_expires_in: 0, token_type: 'Bearer', 'not-before-policy': 0, scope: 'profile email',
  }),
  refusal(kind) {
    switch (kind) {
      case 'wrong_secret': return { httpStatus: 401, body: { error: 'unauthorized_client', error_description: 'Invalid client or Invalid client credentials' } };
      case 'unknown_client': return { httpStatus: 401, body: { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' } };
      case 'unsupported_grant_type': return { httpStatus: 400, body: { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' } };
      default: return { httpStatus: 400, body: { error: 'invalid_request', error_description: 'Missing form parameter' } };
    }
  },
};

type Failure = { httpStatus: number; code: number; message: string };
// unverified: the error codes, modelled on Huawei's (Honor's push API was split from it).
const fail = (httpStatus: number, code: number, message: string): Failure => ({ httpStatus, code, message });

const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v !== '';

function hasSnakeCaseKey(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('_')) return k;
    const inner = hasSnakeCaseKey(v);
    if (inner) return inner;
  }
  return undefined;
}

function validateBody(body: Record<string, unknown>): Failure | undefined {
  const tokens = body.token;
  if (!Array.isArray(tokens) || !tokens.every(nonEmpty)) return fail(400, 80100001, 'token must be an array of strings');
  if (tokens.length < 1 || tokens.length > MAX_TOKENS) return fail(400, 80300010, 'the number of tokens exceeds the limit');
  if (body.data !== undefined && typeof body.data !== 'string') return fail(400, 80100003, 'data must be a string');
  const android = body.android as Record<string, unknown> | undefined;
  if (android === undefined) return body.data === undefined ? fail(400, 80100003, 'message has neither data nor notification') : undefined;
  if (typeof android !== 'object' || android === null) return fail(400, 80100003, 'android must be an object');
  // Honor's JSON is camelCase; a snake_case field (Huawei's spelling) is silently wrong at best.
  const snake = hasSnakeCaseKey(android);
  if (snake) return fail(400, 80100003, `unknown field ${snake}`);
  if (android.ttl !== undefined && (typeof android.ttl !== 'string' || !/^\d+(\.\d{1,9})?s$/.test(android.ttl))) return fail(400, 80100001, 'ttl format error');
  const n = android.notification as Record<string, unknown> | undefined;
  if (n === undefined) return undefined;
  if (typeof n !== 'object' || n === null) return fail(400, 80100003, 'notification must be an object');
  if (!nonEmpty(n.title) || !nonEmpty(n.body)) return fail(400, 80100003, 'title and body must not be empty');
  const click = n.clickAction as Record<string, unknown> | undefined;
  if (typeof click !== 'object' || click === null) return fail(400, 80100003, 'clickAction must not be null');
  if (click.type === 1 && !nonEmpty(click.intent) && !nonEmpty(click.action)) return fail(400, 80100003, 'intent or action is required when type is 1');
  if (click.type === 2 && !nonEmpty(click.url)) return fail(400, 80100003, 'url is required when type is 2');
  if (![1, 2, 3].includes(click.type as number)) return fail(400, 80100003, 'clickAction.type must be 1..3');
  if (n.importance !== undefined && n.importance !== 'LOW' && n.importance !== 'NORMAL') return fail(400, 80100001, 'importance must be LOW or NORMAL');
  if (n.notifyId !== undefined && (!Number.isInteger(n.notifyId) || (n.notifyId as number) < 0 || (n.notifyId as number) > 0x7fffffff)) {
    return fail(400, 80100001, 'notifyId must be a non-negative int');
  }
  if (n.badge !== undefined) {
    const b = n.badge as Record<string, unknown> | null;
    if (typeof b !== 'object' || b === null || !nonEmpty(b.badgeClass)) return fail(400, 80100003, 'badge.badgeClass is required');
    if (b.setNum !== undefined && (!Number.isInteger(b.setNum) || (b.setNum as number) < 0 || (b.setNum as number) > 99)) {
      return fail(400, 80100001, 'badge.setNum must be 0..99');
    }
  }
  return undefined;
}

export async function startHonorFake(opts: FakeHonorOptions): Promise<FakeHonor> {
  const tls = await serverTls();
  const ttlDefault = opts.tokenTtlSec ?? 3600;
  const skewMs = opts.timestampSkewMs ?? 10 * 60_000;
  const issuer = new FakeOAuthIssuer({
    clients: opts.apps.map((a) => ({ clientId: a.clientId, clientSecret: a.clientSecret, appId: a.appId })),
    ttlSec: ttlDefault,
    answers: KEYCLOAK,
  });
  const record = opts.record ?? true;
  const counts = { accepted: 0, rejected: 0 };
  const received: ReceivedHonorMessage[] = [];
  const rejected: RejectedHonorRequest[] = [];
  const failures: FakeHonorFailure[] = [];

  const control: FakeHonorControl = Object.assign(
    oauthFakeControl(issuer, failures, { latencyMs: opts.latencyMs ?? 0, tokenTtlSec: ttlDefault }, () => {
      control.timestampSkewMs = skewMs;
    }),
    { timestampSkewMs: skewMs },
  );

  const reply = (res: ServerResponse, httpStatus: number, body: unknown, headers: Record<string, string> = {}, delayMs = control.latencyMs): void =>
    replyAfter(res, delayMs, httpStatus, body, headers);

  function handleSend(req: IncomingMessage, res: ServerResponse, path: string, appId: string, text: string): void {
    const receivedAt = Date.now();
    let parsed: unknown = text;
    const reject = (f: { httpStatus: number; code: number | undefined; message: string }, headers: Record<string, string> = {}): void => {
      counts.rejected++;
      if (record) rejected.push({ path, httpStatus: f.httpStatus, code: f.code, message: f.message, body: parsed, receivedAt });
      reply(res, f.httpStatus, f.code !== undefined ? { code: f.code, message: f.message } : f.message, headers);
    };

    const auth = issuer.check(typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined);
    if (!auth.ok) return reject(auth.why === 'expired' ? fail(401, 80200003, 'access token expired') : fail(401, 80200001, 'access token invalid'));
    if (auth.token.appId !== appId) return reject(fail(401, 80200001, 'access token does not belong to this app'));
    const timestamp = Number(req.headers.timestamp);
    if (typeof req.headers.timestamp !== 'string' || !/^\d{13}$/.test(req.headers.timestamp) || Math.abs(timestamp - receivedAt) > control.timestampSkewMs) {
      return reject(fail(400, 80100001, 'timestamp header missing or out of range'));
    }
    const injected = failures.shift();
    if (injected) {
      return reject({ httpStatus: injected.httpStatus, code: injected.code, message: injected.message ?? 'Service Unavailable' }, retryAfterHeader(injected.retryAfterSec));
    }
    if (control.quotaExceeded) return reject({ httpStatus: 503, code: undefined, message: 'flow control' }, retryAfterHeader(control.quotaRetryAfterSec));
    if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) return reject(fail(400, 80100001, 'Content-Type must be application/json'));
    if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) return reject(fail(400, 80300008, 'message body too large'));
    try {
      parsed = JSON.parse(text);
    } catch {
      return reject(fail(400, 80100003, 'incorrect message structure'));
    }
    const body = parsed as Record<string, unknown> | null;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return reject(fail(400, 80100003, 'incorrect message structure'));
    const invalid = validateBody(body);
    if (invalid) return reject(invalid);

    const tokens = body.token as string[];
    const expired = tokens.filter((t) => control.deadTokens.has(t));
    const requestId = `${Date.now()}${String(randomInt(0, 1e6)).padStart(6, '0')}`;
    counts.accepted++;
    if (record) received.push({ appId, body, headers: { ...req.headers }, accessToken: auth.token.accessToken, requestId, expired, receivedAt });
    // unverified: the success body (`data.sendResult`, `requestId`, `failTokens`, `expireTokens`).
    reply(res, 200, {
      code: 200,
      message: 'success',
      data: { sendResult: expired.length < tokens.length, requestId, failTokens: [], expireTokens: expired },
    });
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req: IncomingMessage, res: ServerResponse) => {
    void readBody(req, { maxBytes: 1 << 20, onBroken: 'drop' }).then((text) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method === 'POST' && (path === '/auth/realms/developer/protocol/openid-connect/token' || path === '/auth/token')) {
        const answer = issuer.handle(text, req.headers['content-type']);
        return reply(res, answer.httpStatus, answer.body, answer.headers, control.latencyMs + control.tokenLatencyMs);
      }
      const send = /^\/api\/v1\/([^/]+)\/sendMessage$/.exec(path);
      if (req.method === 'POST' && send?.[1]) return handleSend(req, res, path, decodeURIComponent(send[1]), text);
      counts.rejected++;
      if (record) rejected.push({ path, httpStatus: 404, code: undefined, message: 'Not Found', body: text, receivedAt: Date.now() });
      reply(res, 404, 'Not Found');
    });
  });

  const { port, url, close } = await serveOnLoopback(server, opts.port);
  return {
    url,
    authUrl: `${url}/auth/realms/developer/protocol/openid-connect/token`,
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
