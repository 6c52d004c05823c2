// Wire-faithful fake of OPPO Push (auth + unicast) on 127.0.0.1 over HTTPS. It checks the
// signature the way OPPO does (SHA-256 over app_key + timestamp + master_secret, recomputed
// from the secret it was started with), issues auth tokens with a configurable lifetime,
// refuses unknown or expired ones with code 11, checks the unicast message's fields and
// answers with OPPO's bodies `{code, message, data}`. Codes and limits come from
// push/vendors/oppo/oppo-facts.ts, so the fake and the provider share one reading of OPPO.

import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { oppoSign } from '../../push/vendors/oppo/oppo-auth.ts';
import {
  OPPO_AUTH_PATH, OPPO_CODES, OPPO_LIMITS, OPPO_TARGET_REGISTRATION_ID, OPPO_TIMESTAMP_WINDOW_MS, OPPO_UNICAST_PATH,
} from '../../push/vendors/oppo/oppo-facts.ts';
import { JSON_UTF8, readBody, replyAfter, serveOnLoopback } from './http-fake.ts';
import { serverTls } from './tls.ts';

export interface FakeOppoOptions {
  appKey: string;
  masterSecret: string;
  /** Lifetime of issued auth tokens; OPPO's is 24 h. */
  tokenTtlMs?: number;
  latencyMs?: number;
  port?: number;
}

export interface ReceivedOppoMessage {
  messageId: string;
  authToken: string;
  /** The `message` form field, parsed. */
  message: Record<string, any>;
  headers: IncomingMessage['headers'];
  receivedAt: number;
}

export interface RejectedOppoRequest {
  path: string;
  code: number;
  message: string;
  form: Record<string, string>;
  httpStatus: number;
  receivedAt: number;
}

export interface FakeOppoControl {
  /** Registration ids OPPO does not know (code 10000). */
  deadTokens: Set<string>;
  /** The app's daily quota is used up (code 33) until set back to false. */
  quotaExceeded: boolean;
  /** Every token issued so far stops working (the next unicast gets code 11). */
  expireTokensNow(): void;
  /** Answer the next n unicast calls with this code (e.g. -2 flow control, 55 frequency limit). */
  failNext(n: number, code: number): void;
  /** Answer the next n calls (auth or unicast) with a bare HTTP status, e.g. 502. */
  failNextHttp(n: number, httpStatus: number): void;
  latencyMs: number;
  reset(): void;
}

export interface FakeOppo {
  /** Base URL, e.g. https://127.0.0.1:PORT */
  url: string;
  authUrl: string;
  pushUrl: string;
  ca: string;
  received: ReceivedOppoMessage[];
  rejected: RejectedOppoRequest[];
  /** Successful auth calls (tokens issued) and all auth calls. */
  counts: { authCalls: number; tokensIssued: number; unicastCalls: number; accepted: number; deduplicated: number };
  control: FakeOppoControl;
  close(): Promise<void>;
}

const MESSAGES: Record<number, string> = {
  [OPPO_CODES.FLOW_CONTROL]: 'Service Currently Unavailable, Flow Control',
  [OPPO_CODES.SERVICE_UNAVAILABLE]: 'Service Currently Unavailable',
  [OPPO_CODES.SUCCESS]: 'Success',
  [OPPO_CODES.INVALID_AUTH_TOKEN]: 'Invalid AuthToken',
  [OPPO_CODES.CALL_LIMIT]: 'Call Limited',
  [OPPO_CODES.INVALID_APP_KEY]: 'Invalid AppKey',
  [OPPO_CODES.MISSING_APP_KEY]: 'Missing AppKey',
  [OPPO_CODES.INVALID_SIGNATURE]: 'Invalid Signature',
  [OPPO_CODES.MISSING_SIGNATURE]: 'Missing Signature',
  [OPPO_CODES.MISSING_TIMESTAMP]: 'Missing Timestamp',
  [OPPO_CODES.INVALID_TIMESTAMP]: 'Invalid Timestamp',
  [OPPO_CODES.MISSING_AUTH_TOKEN]: 'Missing AuthToken',
  [OPPO_CODES.DAILY_QUOTA_EXCEEDED]: 'The Number Of Messages Exceeds The Daily Limit',
  [OPPO_CODES.MISSING_ARGUMENT]: 'Missing Required Arguments',
  [OPPO_CODES.INVALID_ARGUMENT]: 'Invalid Arguments',
  [OPPO_CODES.FREQUENCY_LIMIT]: 'Frequency Limit',
  [OPPO_CODES.INVALID_REGISTRATION_ID]: 'Invalid RegistrationId',
};

/** A broken-off request is answered as an empty form. */
async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  return Object.fromEntries(new URLSearchParams(await readBody(req, { onBroken: 'empty' })));
}

export async function startFakeOppo(opts: FakeOppoOptions): Promise<FakeOppo> {
  const tls = await serverTls();
  const tokens = new Map<string, number>(); // token -> expires at (ms)
  const byAppMessageId = new Map<string, string>(); // app_message_id -> messageId (OPPO pushes one once)
  const codeFailures: number[] = [];
  const httpFailures: number[] = [];
  const received: ReceivedOppoMessage[] = [];
  const rejected: RejectedOppoRequest[] = [];
  const counts = { authCalls: 0, tokensIssued: 0, unicastCalls: 0, accepted: 0, deduplicated: 0 };
  let seq = 0;

  const control: FakeOppoControl = {
    deadTokens: new Set(),
    quotaExceeded: false,
    expireTokensNow() {
      for (const token of tokens.keys()) tokens.set(token, 0);
    },
    failNext(n, code) {
      for (let i = 0; i < n; i++) codeFailures.push(code);
    },
    failNextHttp(n, httpStatus) {
      for (let i = 0; i < n; i++) httpFailures.push(httpStatus);
    },
    latencyMs: opts.latencyMs ?? 0,
    reset() {
      this.deadTokens.clear();
      this.quotaExceeded = false;
      codeFailures.length = 0;
      httpFailures.length = 0;
      this.latencyMs = opts.latencyMs ?? 0;
    },
  };

  // Every answer is labelled JSON, even a gateway's text error page.
  const reply = (res: ServerResponse, httpStatus: number, body: unknown): void =>
    replyAfter(res, control.latencyMs, httpStatus, body, { 'content-type': JSON_UTF8 });
  const answer = (res: ServerResponse, path: string, form: Record<string, string>, code: number, data?: unknown, detail?: string): void => {
    const message = detail ?? MESSAGES[code] ?? 'Error';
    if (code !== OPPO_CODES.SUCCESS) rejected.push({ path, code, message, form, httpStatus: 200, receivedAt: Date.now() });
    reply(res, 200, data === undefined ? { code, message } : { code, message, data });
  };

  function handleAuth(res: ServerResponse, form: Record<string, string>): void {
    counts.authCalls++;
    const fail = (code: number): void => answer(res, OPPO_AUTH_PATH, form, code);
    if (!form.app_key) return fail(OPPO_CODES.MISSING_APP_KEY);
    if (form.app_key !== opts.appKey) return fail(OPPO_CODES.INVALID_APP_KEY);
    if (!form.sign) return fail(OPPO_CODES.MISSING_SIGNATURE);
    if (!form.timestamp) return fail(OPPO_CODES.MISSING_TIMESTAMP);
    const timestamp = Number(form.timestamp);
    if (!/^\d{13}$/.test(form.timestamp) || Math.abs(Date.now() - timestamp) > OPPO_TIMESTAMP_WINDOW_MS) return fail(OPPO_CODES.INVALID_TIMESTAMP);
    if (form.sign !== oppoSign(opts.appKey, form.timestamp, opts.masterSecret)) return fail(OPPO_CODES.INVALID_SIGNATURE);
    const token = `${randomBytes(4).toString('hex')}-${randomBytes(12).toString('hex')}`;
    const now = Date.now();
    tokens.set(token, now + (opts.tokenTtlMs ?? 24 * 3600_000));
    counts.tokensIssued++;
    answer(res, OPPO_AUTH_PATH, form, OPPO_CODES.SUCCESS, { auth_token: token, create_time: now });
  }

  /** Why OPPO would refuse this message, or undefined. */
  function invalidField(message: Record<string, any>): { code: number; detail: string } | undefined {
    const n = message.notification;
    if (message.target_type !== OPPO_TARGET_REGISTRATION_ID) return { code: OPPO_CODES.INVALID_ARGUMENT, detail: 'target_type must be 2 (registration id) for unicast here' };
    if (typeof message.target_value !== 'string' || message.target_value === '') return { code: OPPO_CODES.MISSING_ARGUMENT, detail: 'target_value is required' };
    if (typeof n !== 'object' || n === null) return { code: OPPO_CODES.MISSING_ARGUMENT, detail: 'notification is required' };
    if (typeof n.channel_id !== 'string' || n.channel_id === '') return { code: OPPO_CODES.MISSING_ARGUMENT, detail: 'channel_id is required' };
    if (typeof n.title !== 'string' || n.title === '') return { code: OPPO_CODES.MISSING_ARGUMENT, detail: 'title is required' };
    if (n.title.length > OPPO_LIMITS.titleChars) return { code: OPPO_CODES.INVALID_ARGUMENT, detail: 'title too long' };
    if (typeof n.content !== 'string' || n.content === '') return { code: OPPO_CODES.MISSING_ARGUMENT, detail: 'content is required' };
    if (n.content.length > OPPO_LIMITS.contentChars) return { code: OPPO_CODES.INVALID_ARGUMENT, detail: 'content too long' };
    if (![0, 1, 2, 4, 5].includes(n.click_action_type ?? 0)) return { code: OPPO_CODES.INVALID_ARGUMENT, detail: 'click_action_type' };
    if ((n.click_action_type === 1 || n.click_action_type === 4) && !n.click_action_activity) return { code: OPPO_CODES.MISSING_ARGUMENT, detail: 'click_action_activity is required' };
    if (n.action_parameters !== undefined) {
      if (typeof n.action_parameters !== 'string' || n.action_parameters.length > OPPO_LIMITS.actionParametersChars) return { code: OPPO_CODES.INVALID_ARGUMENT, detail: 'action_parameters' };
      try {
        JSON.parse(n.action_parameters);
      } catch {
        return { code: OPPO_CODES.INVALID_ARGUMENT, detail: 'action_parameters must be JSON' };
      }
    }
    if (n.off_line_ttl !== undefined && (!Number.isInteger(n.off_line_ttl) || n.off_line_ttl < 1 || n.off_line_ttl > OPPO_LIMITS.offLineTtlMaxSec)) return { code: OPPO_CODES.INVALID_ARGUMENT, detail: 'off_line_ttl' };
    if (n.notify_id !== undefined && (!Number.isInteger(n.notify_id) || n.notify_id < 0 || n.notify_id > OPPO_LIMITS.notifyIdMax)) return { code: OPPO_CODES.INVALID_ARGUMENT, detail: 'notify_id' };
    return undefined;
  }

  function handleUnicast(req: IncomingMessage, res: ServerResponse, form: Record<string, string>): void {
    counts.unicastCalls++;
    const fail = (code: number, detail?: string): void => answer(res, OPPO_UNICAST_PATH, form, code, undefined, detail);
    if (!form.auth_token) return fail(OPPO_CODES.MISSING_AUTH_TOKEN);
    const expiresAt = tokens.get(form.auth_token);
    if (expiresAt === undefined || expiresAt <= Date.now()) return fail(OPPO_CODES.INVALID_AUTH_TOKEN);
    const injected = codeFailures.shift();
    if (injected !== undefined) return fail(injected);
    if (control.quotaExceeded) return fail(OPPO_CODES.DAILY_QUOTA_EXCEEDED);
    if (!form.message) return fail(OPPO_CODES.MISSING_ARGUMENT, 'message is required');
    let message: Record<string, any>;
    try {
      message = JSON.parse(form.message) as Record<string, any>;
    } catch {
      return fail(OPPO_CODES.INVALID_ARGUMENT, 'message is not JSON');
    }
    const invalid = invalidField(message);
    if (invalid) return fail(invalid.code, invalid.detail);
    if (control.deadTokens.has(message.target_value)) return fail(OPPO_CODES.INVALID_REGISTRATION_ID);

    const appMessageId = message.notification.app_message_id as string | undefined;
    const earlier = appMessageId ? byAppMessageId.get(appMessageId) : undefined;
    if (earlier) {
      counts.deduplicated++;
      return answer(res, OPPO_UNICAST_PATH, form, OPPO_CODES.SUCCESS, { messageId: earlier, status: 'call_success' });
    }
    // unverified: the exact form of messageId and status; seen as opaque strings in MZ.
    const messageId = `${Date.now().toString(36)}-${String(++seq).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
    if (appMessageId) byAppMessageId.set(appMessageId, messageId);
    counts.accepted++;
    received.push({ messageId, authToken: form.auth_token, message, headers: { ...req.headers }, receivedAt: Date.now() });
    answer(res, OPPO_UNICAST_PATH, form, OPPO_CODES.SUCCESS, { messageId, status: 'call_success' });
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    void readForm(req).then((form) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const known = path === OPPO_AUTH_PATH || path === OPPO_UNICAST_PATH;
      if (!known) return reply(res, 404, { code: 404, message: 'Not Found' });
      if (req.method !== 'POST') return answer(res, path, form, OPPO_CODES.HTTP_METHOD_NOT_ALLOWED, undefined, 'Http Method Not Allowed');
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        return answer(res, path, form, OPPO_CODES.INVALID_ARGUMENT, undefined, 'Content-Type must be application/x-www-form-urlencoded');
      }
      const status = httpFailures.shift();
      if (status !== undefined) {
        rejected.push({ path, code: 0, message: `HTTP ${status}`, form, httpStatus: status, receivedAt: Date.now() });
        return reply(res, status, '<html><body>Bad Gateway</body></html>');
      }
      if (path === OPPO_AUTH_PATH) handleAuth(res, form);
      else handleUnicast(req, res, form);
    });
  });
  const { url, close } = await serveOnLoopback(server, opts.port);

  return {
    url,
    authUrl: url + OPPO_AUTH_PATH,
    pushUrl: url + OPPO_UNICAST_PATH,
    ca: tls.ca,
    received,
    rejected,
    counts,
    control,
    close,
  };
}
