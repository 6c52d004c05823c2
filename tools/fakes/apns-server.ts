// Wire-faithful fake of the APNs provider API (HTTP/2 over TLS, /3/device/<token>).
// Used by the provider tests and by the load tool, so it uses the low-level
// http2 stream API, caches verified JWTs and can stop recording bodies.
// Reasons/statuses follow Apple's "Handling notification responses from APNs".

import { createPublicKey, randomUUID, verify, type KeyObject } from 'node:crypto';
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { listenOnLoopback, serverTls } from './tls.ts';

export type FakeApnsEnvironment = 'development' | 'production';

export interface FakeApnsTokenKey {
  keyId: string;
  teamId: string;
  /** Public half of the p8 (ES256) key; PEM or KeyObject. */
  publicKey: string | KeyObject;
}

export interface FakeApnsOptions {
  environment?: FakeApnsEnvironment;
  tokenKeys?: FakeApnsTokenKey[];
  /** Client certificates (X509Certificate.fingerprint256) accepted for certificate auth. */
  certificateFingerprints?: string[];
  /** Expected bundle id; voip pushes must use `<topic>.voip`. */
  topic?: string;
  latencyMs?: number;
  port?: number;
  /** false: only count, do not keep bodies (load testing). Default true. */
  record?: boolean;
}

export interface ReceivedApnsPush {
  token: string;
  path: string;
  headers: Record<string, string>; // lower-cased, no pseudo-headers
  payload: unknown;
  receivedAt: number;
  apnsId: string;
  auth: 'token' | 'certificate';
}

export interface RejectedApnsPush {
  token: string | undefined;
  path: string;
  headers: Record<string, string>;
  payload: unknown; // parsed JSON when possible, else the raw text
  receivedAt: number;
  status: number;
  reason: string;
}

export interface FakeApnsControl {
  deadTokens: Set<string>; // -> 410 Unregistered
  badTokens: Set<string>; // -> 400 BadDeviceToken
  /** Answer the next n requests with status/reason, before any validation. */
  failNext(n: number, status: number, reason: string): void;
  latencyMs: number;
  /** Destroy the HTTP/2 session on every request without answering. */
  dropConnections: boolean;
  topic: string | undefined;
  reset(): void;
}

export interface FakeApns {
  host: string;
  port: number;
  ca: string;
  environment: FakeApnsEnvironment;
  received: ReceivedApnsPush[];
  rejected: RejectedApnsPush[];
  counts: { accepted: number; rejected: number; dropped: number };
  control: FakeApnsControl;
  close(): Promise<void>;
}

const PUSH_TYPES = new Set(['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm', 'location',
  'liveactivity', 'pushtotalk', 'widgets', 'controls']);
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const HEX_RE = /^[0-9a-fA-F]{16,512}$/;
const MAX_BODY_READ = 64 * 1024;

type Check = { ok: true; auth: 'token' | 'certificate' } | { ok: false; status: number; reason: string };

function b64json(part: string | undefined): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function startFakeApns(opts: FakeApnsOptions = {}): Promise<FakeApns> {
  const tls = await serverTls();
  const environment = opts.environment ?? 'development';
  const record = opts.record ?? true;
  const keys = (opts.tokenKeys ?? []).map((k) => ({ ...k, publicKey: typeof k.publicKey === 'string' ? createPublicKey(k.publicKey) : k.publicKey }));
  const fingerprints = new Set(opts.certificateFingerprints ?? []);
  const verifiedJwts = new Map<string, number>(); // jwt -> iat; signature checks are the hot path under load
  const failures: { status: number; reason: string }[] = [];
  const received: ReceivedApnsPush[] = [];
  const rejected: RejectedApnsPush[] = [];
  const counts = { accepted: 0, rejected: 0, dropped: 0 };

  const control: FakeApnsControl = {
    deadTokens: new Set(),
    badTokens: new Set(),
    failNext(n, status, reason) {
      for (let i = 0; i < n; i++) failures.push({ status, reason });
    },
    latencyMs: opts.latencyMs ?? 0,
    dropConnections: false,
    topic: opts.topic,
    reset() {
      this.deadTokens.clear();
      this.badTokens.clear();
      failures.length = 0;
      this.latencyMs = opts.latencyMs ?? 0;
      this.dropConnections = false;
      this.topic = opts.topic;
    },
  };

  function checkJwt(jwt: string): Check {
    const invalid: Check = { ok: false, status: 403, reason: 'InvalidProviderToken' };
    const nowSec = Math.floor(Date.now() / 1000);
    let iat = verifiedJwts.get(jwt);
    if (iat === undefined) {
      const [h, c, s] = jwt.split('.');
      const header = b64json(h);
      const claims = b64json(c);
      if (!header || !claims || s === undefined || header.alg !== 'ES256') return invalid;
      const key = keys.find((k) => k.keyId === header.kid);
      if (!key || claims.iss !== key.teamId || typeof claims.iat !== 'number') return invalid;
      const signed = Buffer.from(`${h}.${c}`);
      if (!verify('sha256', signed, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))) {
        return invalid;
      }
      iat = claims.iat;
      if (verifiedJwts.size > 1000) verifiedJwts.clear();
      verifiedJwts.set(jwt, iat);
    }
    if (iat > nowSec + 60) return invalid; // issued in the future
    if (nowSec - iat > 3600) return { ok: false, status: 403, reason: 'ExpiredProviderToken' };
    return { ok: true, auth: 'token' };
  }

  function checkAuth(headers: Record<string, string>, socket: TLSSocket): Check {
    const authz = headers.authorization;
    if (authz !== undefined) {
      const m = /^bearer (.+)$/i.exec(authz);
      return m?.[1] ? checkJwt(m[1]) : { ok: false, status: 403, reason: 'InvalidProviderToken' };
    }
    const peer = socket.getPeerX509Certificate?.();
    if (peer) return fingerprints.has(peer.fingerprint256) ? { ok: true, auth: 'certificate' } : { ok: false, status: 403, reason: 'BadCertificate' };
    return { ok: false, status: 403, reason: 'MissingProviderToken' };
  }

  const server = http2.createSecureServer({
    key: tls.key,
    cert: tls.cert,
    // Ask for a client certificate but judge it ourselves, so a bad one gets
    // Apple's 403 BadCertificate instead of a TLS alert.
    requestCert: fingerprints.size > 0,
    rejectUnauthorized: false,
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });

  server.on('stream', (stream, rawHeaders) => {
    stream.on('error', () => undefined);
    if (control.dropConnections) {
      counts.dropped++;
      stream.session?.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_READ) chunks.push(chunk);
    });
    stream.on('end', () => {
      const receivedAt = Date.now();
      const path = String(rawHeaders[':path'] ?? '');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(rawHeaders)) if (!k.startsWith(':') && v !== undefined) headers[k] = String(v);
      const token = /^\/3\/device\/([^/?]+)$/.exec(path)?.[1];
      const text = Buffer.concat(chunks).toString('utf8');
      let payload: unknown = text;
      let parsed = false;
      try {
        payload = JSON.parse(text);
        parsed = typeof payload === 'object' && payload !== null;
      } catch {
        /* keep raw text */
      }
      const apnsId = headers['apns-id'] ?? randomUUID().toUpperCase();

      const respond = (status: number, body?: Record<string, unknown>): void => {
        const send = (): void => {
          if (stream.destroyed || stream.closed) return;
          const h: http2.OutgoingHttpHeaders = { ':status': status, 'apns-id': apnsId };
          if (status === 200 && environment === 'development') h['apns-unique-id'] = randomUUID();
          if (body) h['content-type'] = 'application/json';
          stream.respond(h);
          stream.end(body ? JSON.stringify(body) : undefined);
        };
        if (control.latencyMs > 0) setTimeout(send, control.latencyMs);
        else send();
      };
      const reject = (status: number, reason: string): void => {
        counts.rejected++;
        if (record) rejected.push({ token, path, headers, payload, receivedAt, status, reason });
        respond(status, status === 410 ? { reason, timestamp: receivedAt } : { reason });
      };

      const failure = failures.shift();
      if (failure) return reject(failure.status, failure.reason);
      if (rawHeaders[':method'] !== 'POST') return reject(405, 'MethodNotAllowed');
      if (token === undefined) return reject(404, 'BadPath');
      const auth = checkAuth(headers, stream.session?.socket as TLSSocket);
      if (!auth.ok) return reject(auth.status, auth.reason);
      const topic = headers['apns-topic'];
      if (topic === undefined || topic === '') return reject(400, 'MissingTopic');
      const pushType = headers['apns-push-type'] ?? 'alert';
      if (!PUSH_TYPES.has(pushType)) return reject(400, 'InvalidPushType');
      const priority = headers['apns-priority'];
      if (priority !== undefined && !['1', '5', '10'].includes(priority)) return reject(400, 'BadPriority');
      if (pushType === 'background' && priority === '10') return reject(400, 'BadPriority');
      if (headers['apns-id'] !== undefined && !UUID_RE.test(headers['apns-id'])) return reject(400, 'BadMessageId');
      const expiration = headers['apns-expiration'];
      if (expiration !== undefined && !/^\d+$/.test(expiration)) return reject(400, 'BadExpirationDate');
      const collapseId = headers['apns-collapse-id'];
      if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64) return reject(400, 'BadCollapseId');
      if (!HEX_RE.test(token) || control.badTokens.has(token)) return reject(400, 'BadDeviceToken');
      if (size === 0) return reject(400, 'PayloadEmpty');
      if (size > (pushType === 'voip' ? 5120 : 4096)) return reject(413, 'PayloadTooLarge');
      if (!parsed) return reject(400, 'BadPayload'); // not an Apple-documented reason; Apple's is undocumented
      if (control.topic !== undefined) {
        const expected = pushType === 'voip' ? `${control.topic}.voip` : control.topic;
        if (topic !== expected) return reject(400, 'DeviceTokenNotForTopic');
      }
      if (control.deadTokens.has(token)) return reject(410, 'Unregistered');

      counts.accepted++;
      if (record) received.push({ token, path, headers, payload, receivedAt, apnsId, auth: auth.auth });
      respond(200);
    });
  });

  const port = await listenOnLoopback(server, opts.port);

  return {
    host: '127.0.0.1',
    port,
    ca: tls.ca,
    environment,
    received,
    rejected,
    counts,
    control,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
