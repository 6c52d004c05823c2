// A fake Web Push service (RFC 8030) on 127.0.0.1 over HTTPS that checks what a real one
// checks and reads what only the browser could read: it verifies the VAPID JWT (RFC 8292:
// ES256 under the `k` key, `aud` = this origin, `exp` at most 24 h ahead, `sub` present),
// refuses a `k` other than the subscription's applicationServerKey (403), requires TTL and
// Content-Encoding aes128gcm, and DECRYPTS the body (RFC 8291 over RFC 8188) with the
// subscription's private key and auth secret, which newSubscription() makes like a browser.
// Answers 201 + Location; programmable 404/410 (unsubscribed), 413, 429 + Retry-After, 5xx.

import { createCipheriv, createDecipheriv, createECDH, createHmac, createPublicKey, randomBytes, randomUUID, verify, type ECDH } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  VAPID_MAX_EXPIRY_SEC, WEBPUSH_CEK_INFO, WEBPUSH_CONTENT_ENCODING, WEBPUSH_IKM_INFO, WEBPUSH_MAX_BODY_BYTES, WEBPUSH_NONCE_INFO,
  WEBPUSH_TOPIC_RE, WEBPUSH_URGENCIES,
} from '../../push/vendors/webpush/webpush-facts.ts';
import { answerAfter, serveOnLoopback } from './http-fake.ts';
import { serverTls } from './tls.ts';

export interface FakeSubscription {
  endpoint: string;
  expirationTime: null;
  keys: { p256dh: string; auth: string };
}

export interface ReceivedWebPush {
  subscriptionId: string;
  endpoint: string;
  headers: IncomingMessage['headers'];
  /** The decrypted plaintext, as a service worker's `event.data.text()` would see it. */
  plaintext: string;
  bodyBytes: number;
  ttl: number;
  urgency: string | undefined;
  topic: string | undefined;
  /** A pending message with the same topic was replaced by this one. */
  replacedPrevious: boolean;
  vapid: { publicKey: string; claims: Record<string, unknown> };
  location: string;
  receivedAt: number;
}

export interface RejectedWebPush {
  subscriptionId: string;
  httpStatus: number;
  errno: number;
  message: string;
  headers: IncomingMessage['headers'];
  receivedAt: number;
}

export interface FakeWebPushControl {
  /** Subscriptions the user dropped: 410 Gone. */
  unsubscribed: Set<string>;
  /** Subscriptions the service does not know (expired): 404. */
  notFound: Set<string>;
  /** Answer the next n pushes with this status (413, 429, 500, 503 …), optionally with Retry-After. */
  failNext(n: number, httpStatus: number, opts?: { retryAfterSec?: number }): void;
  latencyMs: number;
  reset(): void;
}

export interface FakeWebPush {
  origin: string;
  ca: string;
  /** A browser's subscription: fresh P-256 keys and 16-byte auth secret, endpoint on this fake. */
  newSubscription(opts?: { applicationServerKey?: string }): FakeSubscription;
  /** The id in a subscription's endpoint (the key of `control.unsubscribed` / `notFound`). */
  idOf(subscription: { endpoint: string }): string;
  received: ReceivedWebPush[];
  rejected: RejectedWebPush[];
  control: FakeWebPushControl;
  close(): Promise<void>;
}

interface Subscriber {
  ecdh: ECDH;
  publicKey: Buffer;
  auth: Buffer;
  applicationServerKey: string | undefined;
  pendingTopics: Set<string>;
}

// autopush's errnos (mozilla-services.github.io/autopush-rs/errors.html), by status.
const ERRNO: Record<number, number> = { 400: 111, 401: 109, 403: 109, 404: 102, 410: 106, 413: 104, 415: 110, 429: 115, 500: 999, 503: 201 };

const hmac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const hkdfExpand = (prk: Buffer, info: Buffer, length: number): Buffer => hmac(prk, Buffer.concat([info, Buffer.from([1])])).subarray(0, length);

/** RFC 8291 §3.4 + RFC 8188 §2: the user agent's side of aes128gcm. Throws when it does not decrypt. */
export function decryptAes128gcm(body: Buffer, subscriber: { ecdh: ECDH; publicKey: Buffer; auth: Buffer }): Buffer {
  if (body.length < 21) throw new Error('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20]!;
  if (idLength !== 65) throw new Error(`key id of ${idLength} bytes, expected the sender's 65-byte public key`);
  if (recordSize < 18) throw new Error('record size too small');
  const senderKey = body.subarray(21, 21 + idLength);
  const shared = subscriber.ecdh.computeSecret(senderKey);
  const ikm = hkdfExpand(hmac(subscriber.auth, shared), Buffer.concat([Buffer.from(WEBPUSH_IKM_INFO, 'binary'), subscriber.publicKey, senderKey]), 32);
  const prk = hmac(salt, ikm);
  const cek = hkdfExpand(prk, Buffer.from(WEBPUSH_CEK_INFO, 'binary'), 16);
  const baseNonce = hkdfExpand(prk, Buffer.from(WEBPUSH_NONCE_INFO, 'binary'), 12);
  const ciphertext = body.subarray(21 + idLength);
  if (ciphertext.length === 0) throw new Error('no records');
  const records: Buffer[] = [];
  for (let offset = 0, seq = 0; offset < ciphertext.length; offset += recordSize, seq++) {
    const record = ciphertext.subarray(offset, offset + recordSize);
    if (record.length <= 16) throw new Error('record without content');
    const nonce = Buffer.from(baseNonce);
    // RFC 8188 §2.3: the record sequence number XORed into the nonce's low bytes (records < 2^32 here).
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ seq) >>> 0, 8);
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    let end = padded.length - 1;
    while (end >= 0 && padded[end] === 0) end--;
    const last = offset + recordSize >= ciphertext.length;
    if (end < 0 || padded[end] !== (last ? 2 : 1)) throw new Error('bad padding delimiter');
    records.push(padded.subarray(0, end));
  }
  return Buffer.concat(records);
}

function verifyVapid(header: string | undefined, origin: string): { ok: true; publicKey: string; claims: Record<string, unknown> } | { ok: false; status: number; message: string } {
  const match = /^vapid\s+t=([^,\s]+)\s*,\s*k=([A-Za-z0-9_-]+)\s*$/i.exec(header ?? '');
  if (!match) return { ok: false, status: 401, message: 'Missing or malformed VAPID Authorization header' };
  const [, jwt, k] = match as unknown as [string, string, string];
  const parts = jwt.split('.');
  if (parts.length !== 3) return { ok: false, status: 401, message: 'Malformed JWT' };
  const [h, c, s] = parts as [string, string, string];
  let jwtHeader: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    jwtHeader = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, status: 401, message: 'Malformed JWT' };
  }
  if (jwtHeader.alg !== 'ES256') return { ok: false, status: 401, message: 'JWT must be signed with ES256' };
  const raw = Buffer.from(k, 'base64url');
  if (raw.length !== 65 || raw[0] !== 0x04) return { ok: false, status: 401, message: 'k is not an uncompressed P-256 key' };
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, format: 'jwk' });
  if (!verify('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))) {
    return { ok: false, status: 401, message: 'JWT signature does not verify with k' };
  }
  const now = Math.floor(Date.now() / 1000);
  if (claims.aud !== origin) return { ok: false, status: 401, message: `aud must be ${origin}` };
  if (typeof claims.exp !== 'number' || claims.exp <= now) return { ok: false, status: 401, message: 'JWT expired' };
  if (claims.exp > now + VAPID_MAX_EXPIRY_SEC) return { ok: false, status: 401, message: 'exp more than 24 hours ahead' };
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) return { ok: false, status: 401, message: 'sub must be a mailto: or https: URL' };
  return { ok: true, publicKey: k, claims };
}

export async function startFakeWebPush(opts: { port?: number; latencyMs?: number } = {}): Promise<FakeWebPush> {
  const tls = await serverTls();
  const subscribers = new Map<string, Subscriber>();
  const failures: { httpStatus: number; retryAfterSec?: number }[] = [];
  const received: ReceivedWebPush[] = [];
  const rejected: RejectedWebPush[] = [];
  let origin = '';

  const control: FakeWebPushControl = {
    unsubscribed: new Set(),
    notFound: new Set(),
    failNext(n, httpStatus, o) {
      for (let i = 0; i < n; i++) failures.push({ httpStatus, ...(o?.retryAfterSec !== undefined ? { retryAfterSec: o.retryAfterSec } : {}) });
    },
    latencyMs: opts.latencyMs ?? 0,
    reset() {
      this.unsubscribed.clear();
      this.notFound.clear();
      failures.length = 0;
      this.latencyMs = opts.latencyMs ?? 0;
    },
  };

  const respond = (res: ServerResponse, status: number, headers: Record<string, string>, body: string): void =>
    answerAfter(res, control.latencyMs, status, headers, body);
  const refuse = (req: IncomingMessage, res: ServerResponse, id: string, status: number, message: string, headers: Record<string, string> = {}): void => {
    const errno = ERRNO[status] ?? 999;
    rejected.push({ subscriptionId: id, httpStatus: status, errno, message, headers: { ...req.headers }, receivedAt: Date.now() });
    respond(res, status, { 'content-type': 'application/json', ...headers }, JSON.stringify({ code: status, errno, error: message, message }));
  };

  function handlePush(req: IncomingMessage, res: ServerResponse, id: string, body: Buffer): void {
    const subscriber = subscribers.get(id);
    if (!subscriber || control.notFound.has(id)) return refuse(req, res, id, 404, 'Subscription not found');
    if (control.unsubscribed.has(id)) return refuse(req, res, id, 410, 'Subscription has been unsubscribed');
    const vapid = verifyVapid(req.headers.authorization, origin);
    if (!vapid.ok) return refuse(req, res, id, vapid.status, vapid.message);
    if (subscriber.applicationServerKey !== undefined && vapid.publicKey !== subscriber.applicationServerKey) {
      return refuse(req, res, id, 403, 'VAPID key does not match the applicationServerKey of the subscription');
    }
    const ttlHeader = req.headers.ttl;
    if (typeof ttlHeader !== 'string' || !/^\d+$/.test(ttlHeader)) return refuse(req, res, id, 400, 'Missing or invalid TTL header');
    const urgency = typeof req.headers.urgency === 'string' ? req.headers.urgency : undefined;
    if (urgency !== undefined && !(WEBPUSH_URGENCIES as readonly string[]).includes(urgency)) return refuse(req, res, id, 400, 'Invalid Urgency header');
    const topic = typeof req.headers.topic === 'string' ? req.headers.topic : undefined;
    if (topic !== undefined && !WEBPUSH_TOPIC_RE.test(topic)) return refuse(req, res, id, 400, 'Topic must be at most 32 URL-safe base64 characters');
    const failure = failures.shift();
    if (failure) return refuse(req, res, id, failure.httpStatus, `injected ${failure.httpStatus}`, failure.retryAfterSec !== undefined ? { 'retry-after': String(failure.retryAfterSec) } : {});
    if (body.length > WEBPUSH_MAX_BODY_BYTES) return refuse(req, res, id, 413, `Body is ${body.length} bytes; at most ${WEBPUSH_MAX_BODY_BYTES}`);
    if (body.length > 0 && req.headers['content-encoding'] !== WEBPUSH_CONTENT_ENCODING) return refuse(req, res, id, 415, 'Content-Encoding must be aes128gcm');
    let plaintext: Buffer;
    try {
      plaintext = decryptAes128gcm(body, subscriber);
    } catch (err) {
      return refuse(req, res, id, 400, `Body does not decrypt: ${err instanceof Error ? err.message : String(err)}`);
    }
    const replacedPrevious = topic !== undefined && subscriber.pendingTopics.has(topic);
    if (topic !== undefined) subscriber.pendingTopics.add(topic);
    const location = `${origin}/message/${randomUUID()}`;
    received.push({
      subscriptionId: id, endpoint: `${origin}/push/${id}`, headers: { ...req.headers }, plaintext: plaintext.toString('utf8'), bodyBytes: body.length,
      ttl: Number(ttlHeader), urgency, topic, replacedPrevious, vapid: { publicKey: vapid.publicKey, claims: vapid.claims }, location, receivedAt: Date.now(),
    });
    respond(res, 201, { location, ttl: ttlHeader }, '');
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const push = /^\/push\/([A-Za-z0-9_-]+)$/.exec(path);
      if (!push?.[1]) return respond(res, 404, { 'content-type': 'text/plain' }, 'Not Found');
      if (req.method !== 'POST') return refuse(req, res, push[1], 405, 'Method not allowed');
      handlePush(req, res, push[1], Buffer.concat(chunks));
    });
  });
  const { url, close } = await serveOnLoopback(server, opts.port);
  origin = url;

  return {
    origin,
    ca: tls.ca,
    newSubscription(o = {}) {
      const ecdh = createECDH('prime256v1');
      const publicKey = ecdh.generateKeys();
      const auth = randomBytes(16);
      const id = randomBytes(16).toString('base64url');
      subscribers.set(id, { ecdh, publicKey, auth, applicationServerKey: o.applicationServerKey, pendingTopics: new Set() });
      return { endpoint: `${origin}/push/${id}`, expirationTime: null, keys: { p256dh: publicKey.toString('base64url'), auth: auth.toString('base64url') } };
    },
    idOf: (subscription) => subscription.endpoint.split('/').pop() ?? '',
    received,
    rejected,
    control,
    close,
  };
}

/**
 * The sender's side of aes128gcm, independent of web-push: lets a test check the fake's
 * decryption against an encryption it did not write (and vice versa).
 */
export function encryptAes128gcm(plaintext: Buffer, subscription: FakeSubscription, recordSize = 4096): Buffer {
  const sender = createECDH('prime256v1');
  const senderKey = sender.generateKeys();
  const uaPublic = Buffer.from(subscription.keys.p256dh, 'base64url');
  const auth = Buffer.from(subscription.keys.auth, 'base64url');
  const salt = randomBytes(16);
  const ikm = hkdfExpand(hmac(auth, sender.computeSecret(uaPublic)), Buffer.concat([Buffer.from(WEBPUSH_IKM_INFO, 'binary'), uaPublic, senderKey]), 32);
  const prk = hmac(salt, ikm);
  const cek = hkdfExpand(prk, Buffer.from(WEBPUSH_CEK_INFO, 'binary'), 16);
  const nonce = hkdfExpand(prk, Buffer.from(WEBPUSH_NONCE_INFO, 'binary'), 12);
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  const record = Buffer.concat([cipher.update(Buffer.concat([plaintext, Buffer.from([2])])), cipher.final(), cipher.getAuthTag()]);
  const header = Buffer.alloc(21);
  salt.copy(header, 0);
  header.writeUInt32BE(recordSize, 16);
  header[20] = 65;
  return Buffer.concat([header, senderKey, record]);
}
