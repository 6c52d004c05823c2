// Wire-faithful fake of Google's OAuth2 token endpoint and the FCM HTTP v1 API.
// Serves HTTP/1.1 (what firebase-admin's `send()` uses) and HTTP/2 (ALPN h2)
// on one TLS port. Error bodies follow google.rpc.Status with FcmError details.

import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import http2 from 'node:http2';
import { answerAfter, serveOnLoopback } from './http-fake.ts';
import { serverTls } from './tls.ts';

export interface FakeFcmServiceAccount {
  clientEmail: string;
  projectId: string;
  publicKey: string | KeyObject;
}

export interface FakeFcmOptions {
  serviceAccounts: FakeFcmServiceAccount[];
  /** Reported as `projectId`; defaults to the first service account's project. */
  projectId?: string;
  latencyMs?: number;
  port?: number;
  tokenTtlSec?: number;
  record?: boolean;
}

export interface ReceivedFcmMessage {
  projectId: string;
  message: Record<string, unknown>; // wire (snake_case) form
  headers: Record<string, string | string[] | undefined>;
  accessToken: string;
  receivedAt: number;
  name: string;
}

export interface RejectedFcmMessage {
  path: string;
  body: unknown;
  receivedAt: number;
  httpStatus: number;
  errorCode: string | undefined;
  message: string;
}

export interface FakeFcmControl {
  deadTokens: Set<string>; // 404 UNREGISTERED
  invalidTokens: Set<string>; // 400 INVALID_ARGUMENT (not a valid registration token)
  senderMismatchTokens: Set<string>; // 403 SENDER_ID_MISMATCH
  /** Answer the next n sends with this error (e.g. 429 QUOTA_EXCEEDED, 503 UNAVAILABLE). */
  failNext(n: number, httpStatus: number, errorCode: string, opts?: { retryAfterSec?: number }): void;
  latencyMs: number;
  /** Destroy the connection on every request without answering. */
  dropConnections: boolean;
  reset(): void;
}

export interface FakeFcm {
  host: string;
  port: number;
  ca: string;
  projectId: string;
  received: ReceivedFcmMessage[];
  rejected: RejectedFcmMessage[];
  tokenGrants: { clientEmail: string; scope: string; accessToken: string; receivedAt: number }[];
  counts: { accepted: number; rejected: number; dropped: number; tokens: number };
  control: FakeFcmControl;
  close(): Promise<void>;
}

const TOKEN_AUD = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const STATUS_OF: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE',
};
const DEFAULT_MESSAGE: Record<string, string> = {
  UNREGISTERED: 'Requested entity was not found.',
  INVALID_ARGUMENT: 'Request contains an invalid argument.',
  QUOTA_EXCEEDED: 'Quota exceeded for quota metric \'Number of messages\' and limit \'Number of messages per minute\'.',
  UNAVAILABLE: 'The service is currently unavailable.',
  INTERNAL: 'Internal error encountered.',
  SENDER_ID_MISMATCH: 'SenderId mismatch',
  THIRD_PARTY_AUTH_ERROR: 'Auth error from APNS or Web Push Service',
};
const RESERVED_DATA_KEY = /^(from|notification|message_type|google\..*|gcm\..*|collapse_key)$/;

// Access tokens are shared by every fake in the process: like real Google, a
// token minted by "the" OAuth server is valid on any FCM endpoint. This also
// matters because firebase-admin caches a credential's token process-wide per
// service-account path, so a provider created against a second fake would
// otherwise present a token that fake never issued.
const issuedTokens = new Map<string, { projectId: string; expiresAt: number }>();

type Req = http2.Http2ServerRequest;
type Res = http2.Http2ServerResponse;

function googleError(httpStatus: number, errorCode: string | undefined, message?: string): Record<string, unknown> {
  const error: Record<string, unknown> = {
    code: httpStatus,
    message: message ?? (errorCode ? DEFAULT_MESSAGE[errorCode] : undefined) ?? 'Error',
    status: STATUS_OF[httpStatus] ?? 'UNKNOWN',
  };
  if (errorCode) error.details = [{ '@type': FCM_ERROR_TYPE, errorCode }];
  return { error };
}

function decodeJwt(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signed: Buffer; sig: Buffer } | undefined {
  const [h, c, s] = jwt.split('.');
  if (h === undefined || c === undefined || s === undefined) return undefined;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>;
    return { header, claims, signed: Buffer.from(`${h}.${c}`), sig: Buffer.from(s, 'base64url') };
  } catch {
    return undefined;
  }
}

export async function startFakeFcm(opts: FakeFcmOptions): Promise<FakeFcm> {
  const tls = await serverTls();
  const record = opts.record ?? true;
  const accounts = new Map(opts.serviceAccounts.map((a) => [a.clientEmail, { ...a, publicKey: typeof a.publicKey === 'string' ? createPublicKey(a.publicKey) : a.publicKey }]));
  const projectId = opts.projectId ?? opts.serviceAccounts[0]?.projectId ?? 'tidings-test';
  const tokens = issuedTokens;
  const failures: { httpStatus: number; errorCode: string; retryAfterSec?: number }[] = [];
  const received: ReceivedFcmMessage[] = [];
  const rejected: RejectedFcmMessage[] = [];
  const tokenGrants: FakeFcm['tokenGrants'] = [];
  const counts = { accepted: 0, rejected: 0, dropped: 0, tokens: 0 };
  let seq = 0;

  const control: FakeFcmControl = {
    deadTokens: new Set(),
    invalidTokens: new Set(),
    senderMismatchTokens: new Set(),
    failNext(n, httpStatus, errorCode, o) {
      for (let i = 0; i < n; i++) failures.push({ httpStatus, errorCode, ...(o?.retryAfterSec !== undefined ? { retryAfterSec: o.retryAfterSec } : {}) });
    },
    latencyMs: opts.latencyMs ?? 0,
    dropConnections: false,
    reset() {
      this.deadTokens.clear();
      this.invalidTokens.clear();
      this.senderMismatchTokens.clear();
      failures.length = 0;
      this.latencyMs = opts.latencyMs ?? 0;
      this.dropConnections = false;
    },
  };

  const reply = (res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void =>
    answerAfter(res, control.latencyMs, status, { 'content-type': 'application/json; charset=UTF-8', ...headers }, JSON.stringify(body));

  function handleToken(res: Res, text: string): void {
    const form = new URLSearchParams(text);
    const fail = (desc: string, error = 'invalid_grant'): void => reply(res, 400, { error, error_description: desc });
    if (form.get('grant_type') !== JWT_BEARER) return fail(`Invalid grant_type: ${form.get('grant_type') ?? ''}`, 'unsupported_grant_type');
    const jwt = decodeJwt(form.get('assertion') ?? '');
    if (!jwt || jwt.header.alg !== 'RS256') return fail('Invalid JWT: malformed assertion');
    const { claims } = jwt;
    const account = accounts.get(String(claims.iss));
    if (!account) return fail('Invalid grant: account not found');
    if (!verify('sha256', jwt.signed, account.publicKey, jwt.sig)) return fail('Invalid JWT Signature.');
    const now = Math.floor(Date.now() / 1000);
    const iat = Number(claims.iat);
    const exp = Number(claims.exp);
    if (claims.aud !== TOKEN_AUD || !(exp > now) || exp - iat > 3600 || iat > now + 300) {
      return fail('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
    }
    const scope = String(claims.scope ?? '');
    if (!/auth\/(firebase\.messaging|cloud-platform)\b/.test(scope)) return fail('Invalid OAuth scope or ID token audience provided.', 'invalid_scope');
    const accessToken = `ya29.fake-${randomBytes(24).toString('base64url')}`;
    const ttl = opts.tokenTtlSec ?? 3599;
    if (tokens.size > 1000) for (const [t, g] of tokens) if (g.expiresAt < Date.now()) tokens.delete(t);
    tokens.set(accessToken, { projectId: account.projectId, expiresAt: Date.now() + ttl * 1000 });
    counts.tokens++;
    if (record) tokenGrants.push({ clientEmail: account.clientEmail, scope, accessToken, receivedAt: Date.now() });
    reply(res, 200, { access_token: accessToken, expires_in: ttl, token_type: 'Bearer' });
  }

  function handleSend(req: Req, res: Res, project: string, text: string): void {
    const receivedAt = Date.now();
    let body: unknown = text;
    const reject = (httpStatus: number, errorCode: string | undefined, message?: string, headers?: Record<string, string>): void => {
      const payload = googleError(httpStatus, errorCode, message);
      counts.rejected++;
      if (record) rejected.push({ path: req.url, body, receivedAt, httpStatus, errorCode, message: String((payload.error as { message: string }).message) });
      reply(res, httpStatus, payload, headers);
    };
    const m = /^Bearer (.+)$/i.exec(String(req.headers.authorization ?? ''));
    const grant = m?.[1] ? tokens.get(m[1]) : undefined;
    if (!m?.[1] || !grant || grant.expiresAt < Date.now()) {
      return reject(401, undefined, 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    if (grant.projectId !== project) {
      return reject(403, undefined, `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${project}' (or it may not exist).`);
    }
    const failure = failures.shift();
    if (failure) {
      const headers: Record<string, string> = failure.retryAfterSec !== undefined ? { 'retry-after': String(failure.retryAfterSec) } : {};
      return reject(failure.httpStatus, failure.errorCode, undefined, headers);
    }
    try {
      body = JSON.parse(text);
    } catch {
      return reject(400, undefined, 'Invalid JSON payload received.');
    }
    const message = (body as { message?: unknown } | null)?.message;
    if (typeof message !== 'object' || message === null) return reject(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.');
    const msg = message as Record<string, unknown>;
    const token = msg.token;
    if (typeof token !== 'string' || token === '') return reject(400, 'INVALID_ARGUMENT', 'Recipient of the message is not set.');
    const data = (msg.data ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(data)) {
      if (typeof v !== 'string') return reject(400, 'INVALID_ARGUMENT', `Invalid value at 'message.data[0].value' (TYPE_STRING), ${JSON.stringify(v)}`);
      if (RESERVED_DATA_KEY.test(k)) return reject(400, 'INVALID_ARGUMENT', `Invalid data payload key: ${k}`);
    }
    const android = (msg.android ?? {}) as Record<string, unknown>;
    if (android.priority !== undefined && !/^(normal|high)$/i.test(String(android.priority))) {
      return reject(400, 'INVALID_ARGUMENT', `Invalid value at 'message.android.priority', "${String(android.priority)}"`);
    }
    if (android.ttl !== undefined && !/^\d+(\.\d{1,9})?s$/.test(String(android.ttl))) {
      return reject(400, 'INVALID_ARGUMENT', "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)");
    }
    const sized = msg.notification ? { notification: msg.notification, data } : { data };
    if (Buffer.byteLength(JSON.stringify(sized)) > 4096) return reject(400, 'INVALID_ARGUMENT', 'Android message is too big');
    if (!/^[A-Za-z0-9_:\-]{8,4096}$/.test(token) || control.invalidTokens.has(token)) {
      return reject(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token');
    }
    if (control.senderMismatchTokens.has(token)) return reject(403, 'SENDER_ID_MISMATCH');
    if (control.deadTokens.has(token)) return reject(404, 'UNREGISTERED');

    const name = `projects/${project}/messages/0:${receivedAt}${String(++seq).padStart(6, '0')}%${randomBytes(8).toString('hex')}`;
    counts.accepted++;
    if (record) received.push({ projectId: project, message: msg, headers: { ...req.headers }, accessToken: m[1], receivedAt, name });
    reply(res, 200, { name });
  }

  const server = http2.createSecureServer({ key: tls.key, cert: tls.cert, allowHTTP1: true });
  server.on('request', (req: Req, res: Res) => {
    if (control.dropConnections) {
      counts.dropped++;
      if ('stream' in req && req.stream) req.stream.session?.destroy();
      else req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method === 'POST' && path === '/token') return handleToken(res, text);
      const send = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(path);
      if (req.method === 'POST' && send?.[1]) return handleSend(req, res, send[1], text);
      reply(res, 404, googleError(404, undefined, `Method not found: ${path}`));
    });
  });

  const { port, close } = await serveOnLoopback(server, opts.port);

  return {
    host: '127.0.0.1',
    port,
    ca: tls.ca,
    projectId,
    received,
    rejected,
    tokenGrants,
    counts,
    control,
    close,
  };
}
