// Wire-faithful fake of vivo Push (auth + single send) on 127.0.0.1 over HTTPS. It checks the
// MD5 signature the way vivo does (recomputed from the secret it was started with), the ±10 min
// timestamp window and the daily auth cap, issues tokens with a configurable lifetime, refuses
// unknown or expired tokens, checks the send body's fields and sizes, dedupes by requestId like
// vivo (a resend with the same requestId is not a second message) and answers with vivo's
// bodies `{result, desc, …}`. Codes and limits come from push/vendors/vivo/vivo-facts.ts.

import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { vivoSign } from '../../push/vendors/vivo/vivo-auth.ts';
import {
  VIVO_AUTH_CALLS_PER_DAY, VIVO_AUTH_PATH, VIVO_CODES, VIVO_LIMITS, VIVO_OPERATION_CATEGORIES, VIVO_SEND_PATH,
  VIVO_SYSTEM_CATEGORIES, VIVO_TIMESTAMP_WINDOW_MS,
} from '../../push/vendors/vivo/vivo-facts.ts';
import { vivoTextUnits } from '../../push/vendors/vivo/vivo-payload.ts';
import { JSON_UTF8, readBody, replyAfter, serveOnLoopback } from './http-fake.ts';
import { serverTls } from './tls.ts';

export interface FakeVivoOptions {
  appId: number;
  appKey: string;
  appSecret: string;
  /** Lifetime of issued tokens; vivo's is one day. */
  tokenTtlMs?: number;
  /** Auth calls allowed per day before 10250. */
  authCallsPerDay?: number;
  latencyMs?: number;
  port?: number;
}

export interface ReceivedVivoMessage {
  taskId: string;
  authToken: string;
  body: Record<string, any>;
  headers: IncomingMessage['headers'];
  receivedAt: number;
}

export interface RejectedVivoRequest {
  path: string;
  result: number;
  desc: string;
  body: unknown;
  httpStatus: number;
  receivedAt: number;
}

export interface FakeVivoControl {
  /** regIds vivo calls illegal (10302). */
  deadTokens: Set<string>;
  /** regIds answered with result 0 and invalidUser {status} (1 not found, 2 notifications off, 3 offline 90 days, 4 not a test device). */
  invalidUsers: Map<string, number>;
  /** The day's send quota is used up (10070) until set back to false. */
  quotaExceeded: boolean;
  /** Auth calls allowed (counted since start) before 10250; vivo's is 10,000 a day. */
  authCallsPerDay: number;
  /** Every token issued so far stops working. */
  expireTokensNow(): void;
  /** Answer the next n sends with this result code (e.g. 10072 too frequent). */
  failNext(n: number, result: number): void;
  /** Answer the next n calls (auth or send) with a bare HTTP status, e.g. 500. */
  failNextHttp(n: number, httpStatus: number): void;
  latencyMs: number;
  reset(): void;
}

export interface FakeVivo {
  url: string;
  authUrl: string;
  pushUrl: string;
  ca: string;
  received: ReceivedVivoMessage[];
  rejected: RejectedVivoRequest[];
  counts: { authCalls: number; tokensIssued: number; sendCalls: number; accepted: number; deduplicated: number };
  control: FakeVivoControl;
  close(): Promise<void>;
}

const DESC: Record<number, string> = {
  [VIVO_CODES.SUCCESS]: '请求成功',
  [VIVO_CODES.AUTH_TOKEN_INVALID]: '权限认证失败',
  [VIVO_CODES.TOTAL_QUOTA_EXCEEDED]: '发送总量超出限制',
  [VIVO_CODES.TOO_FREQUENT]: '超频',
  [VIVO_CODES.APP_ID_MISMATCH]: 'appId不一致',
  [VIVO_CODES.AUTH_FIELD_INVALID]: 'appId不能为空',
  [VIVO_CODES.AUTH_SIGN_WRONG]: 'sign不正确',
  [VIVO_CODES.AUTH_TIMESTAMP_ILLEGAL]: 'timestamp不合法',
  [VIVO_CODES.AUTH_CALL_LIMIT]: '鉴权接口调用次数超过限制',
  [VIVO_CODES.INVALID_REG_ID]: 'regId不合法',
};

const isInt = (v: unknown, min: number, max: number): boolean => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

export async function startFakeVivo(opts: FakeVivoOptions): Promise<FakeVivo> {
  const tls = await serverTls();
  const tokens = new Map<string, number>(); // token -> expires at (ms)
  const byRequestId = new Map<string, string>(); // requestId -> taskId
  const resultFailures: number[] = [];
  const httpFailures: number[] = [];
  const received: ReceivedVivoMessage[] = [];
  const rejected: RejectedVivoRequest[] = [];
  const counts = { authCalls: 0, tokensIssued: 0, sendCalls: 0, accepted: 0, deduplicated: 0 };
  let taskSeq = 580_000_000;

  const control: FakeVivoControl = {
    deadTokens: new Set(),
    invalidUsers: new Map(),
    quotaExceeded: false,
    authCallsPerDay: opts.authCallsPerDay ?? VIVO_AUTH_CALLS_PER_DAY,
    expireTokensNow() {
      for (const token of tokens.keys()) tokens.set(token, 0);
    },
    failNext(n, result) {
      for (let i = 0; i < n; i++) resultFailures.push(result);
    },
    failNextHttp(n, httpStatus) {
      for (let i = 0; i < n; i++) httpFailures.push(httpStatus);
    },
    latencyMs: opts.latencyMs ?? 0,
    reset() {
      this.deadTokens.clear();
      this.invalidUsers.clear();
      this.quotaExceeded = false;
      this.authCallsPerDay = opts.authCallsPerDay ?? VIVO_AUTH_CALLS_PER_DAY;
      resultFailures.length = 0;
      httpFailures.length = 0;
      this.latencyMs = opts.latencyMs ?? 0;
    },
  };

  // Every answer is labelled JSON, even a gateway's text error page.
  const reply = (res: ServerResponse, httpStatus: number, body: unknown): void =>
    replyAfter(res, control.latencyMs, httpStatus, body, { 'content-type': JSON_UTF8 });
  const answer = (res: ServerResponse, path: string, body: unknown, result: number, extra: Record<string, unknown> = {}, desc?: string): void => {
    const text = desc ?? DESC[result] ?? '参数不合法';
    if (result !== VIVO_CODES.SUCCESS) rejected.push({ path, result, desc: text, body, httpStatus: 200, receivedAt: Date.now() });
    reply(res, 200, { result, desc: text, ...extra });
  };

  function handleAuth(res: ServerResponse, body: Record<string, any>): void {
    counts.authCalls++;
    const fail = (result: number, desc?: string): void => answer(res, VIVO_AUTH_PATH, body, result, {}, desc);
    if (counts.authCalls > control.authCallsPerDay) return fail(VIVO_CODES.AUTH_CALL_LIMIT);
    if (body.appId === undefined || body.appId === null || body.appId === '') return fail(VIVO_CODES.AUTH_FIELD_INVALID, 'appId不能为空');
    if (Number(body.appId) !== opts.appId) return fail(VIVO_CODES.AUTH_FIELD_INVALID, 'appId不存在');
    if (!body.appKey) return fail(VIVO_CODES.AUTH_FIELD_INVALID, 'appKey不能为空');
    if (body.appKey !== opts.appKey) return fail(VIVO_CODES.AUTH_FIELD_INVALID, 'appKey不合法');
    if (body.timestamp === undefined) return fail(VIVO_CODES.AUTH_FIELD_INVALID, 'timestamp不能为空');
    if (!Number.isInteger(body.timestamp) || Math.abs(Date.now() - body.timestamp) > VIVO_TIMESTAMP_WINDOW_MS) return fail(VIVO_CODES.AUTH_TIMESTAMP_ILLEGAL);
    if (!body.sign) return fail(VIVO_CODES.AUTH_FIELD_INVALID, 'sign不能为空');
    if (body.sign !== vivoSign(opts.appId, opts.appKey, body.timestamp, opts.appSecret)) return fail(VIVO_CODES.AUTH_SIGN_WRONG);
    const token = randomBytes(20).toString('hex');
    tokens.set(token, Date.now() + (opts.tokenTtlMs ?? 24 * 3600_000));
    counts.tokensIssued++;
    answer(res, VIVO_AUTH_PATH, body, VIVO_CODES.SUCCESS, { authToken: token });
  }

  /** Why vivo would refuse this body, or undefined. */
  function invalidField(b: Record<string, any>): string | undefined {
    if (typeof b.regId !== 'string' || b.regId === '') return 'regId和alias不能都为空';
    if (!isInt(b.notifyType, 1, 4)) return 'notifyType不合法';
    if (typeof b.title !== 'string' || b.title === '' || vivoTextUnits(b.title) > VIVO_LIMITS.titleUnits) return 'title不合法';
    if (typeof b.content !== 'string' || b.content === '' || vivoTextUnits(b.content) > VIVO_LIMITS.contentUnits) return 'content不合法';
    if (b.timeToLive !== undefined && !isInt(b.timeToLive, VIVO_LIMITS.ttlMinSec, VIVO_LIMITS.ttlMaxSec)) return 'timeToLive不合法';
    if (!isInt(b.skipType, 1, 4)) return 'skipType不合法';
    if ((b.skipType === 2 || b.skipType === 3 || b.skipType === 4) && (typeof b.skipContent !== 'string' || b.skipContent === '' || b.skipContent.length > VIVO_LIMITS.skipContentChars)) return 'skipContent不合法';
    if (b.networkType !== undefined && b.networkType !== -1 && b.networkType !== 1) return 'networkType不合法';
    if (b.clientCustomMap !== undefined) {
      const map = b.clientCustomMap;
      if (typeof map !== 'object' || map === null || Array.isArray(map)) return 'clientCustomMap不合法';
      if (Object.keys(map).length > VIVO_LIMITS.customMapPairs || JSON.stringify(map).length > VIVO_LIMITS.customMapChars) return 'clientCustomMap超出限制';
      if (Object.values(map).some((v) => typeof v !== 'string')) return 'clientCustomMap的值必须是字符串';
    }
    if (typeof b.requestId !== 'string' || b.requestId === '' || b.requestId.length > VIVO_LIMITS.requestIdChars) return 'requestId不合法';
    if (b.classification !== undefined && b.classification !== 0 && b.classification !== 1) return 'classification不合法';
    if (b.category !== undefined) {
      const system = (VIVO_SYSTEM_CATEGORIES as readonly string[]).includes(b.category);
      const operation = (VIVO_OPERATION_CATEGORIES as readonly string[]).includes(b.category);
      if (!system && !operation) return 'category不合法';
      if (system !== (b.classification === 1)) return 'category与classification不匹配';
    }
    if (b.pushMode !== undefined && b.pushMode !== 0 && b.pushMode !== 1) return 'pushMode不合法';
    return undefined;
  }

  function handleSend(req: IncomingMessage, res: ServerResponse, body: Record<string, any>): void {
    counts.sendCalls++;
    const fail = (result: number, desc?: string): void => answer(res, VIVO_SEND_PATH, body, result, {}, desc);
    const authToken = String(req.headers.authtoken ?? '');
    const expiresAt = tokens.get(authToken);
    if (!authToken || expiresAt === undefined || expiresAt <= Date.now()) return fail(VIVO_CODES.AUTH_TOKEN_INVALID);
    if (body.appId !== undefined && Number(body.appId) !== opts.appId) return fail(VIVO_CODES.APP_ID_MISMATCH);
    const injected = resultFailures.shift();
    if (injected !== undefined) return fail(injected);
    if (control.quotaExceeded) return fail(VIVO_CODES.TOTAL_QUOTA_EXCEEDED);
    const invalid = invalidField(body);
    if (invalid) return fail(VIVO_CODES.FAKE_PARAM_ERROR, invalid);
    if (control.deadTokens.has(body.regId)) return fail(VIVO_CODES.INVALID_REG_ID);

    const earlier = byRequestId.get(body.requestId);
    if (earlier) {
      // unverified: vivo's exact answer to a repeated requestId; we answer like the first time, without a second message.
      counts.deduplicated++;
      return answer(res, VIVO_SEND_PATH, body, VIVO_CODES.SUCCESS, { taskId: earlier });
    }
    const taskId = String(++taskSeq);
    byRequestId.set(body.requestId, taskId);
    const status = control.invalidUsers.get(body.regId);
    counts.accepted++;
    received.push({ taskId, authToken, body, headers: { ...req.headers }, receivedAt: Date.now() });
    answer(res, VIVO_SEND_PATH, body, VIVO_CODES.SUCCESS, { taskId, ...(status !== undefined ? { invalidUser: { status, userid: body.regId } } : {}) });
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    void readBody(req, { onBroken: 'empty' }).then((text) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (path !== VIVO_AUTH_PATH && path !== VIVO_SEND_PATH) return reply(res, 404, 'Not Found');
      if (req.method !== 'POST') return reply(res, 405, 'Method Not Allowed');
      const status = httpFailures.shift();
      if (status !== undefined) {
        rejected.push({ path, result: -1, desc: `HTTP ${status}`, body: text, httpStatus: status, receivedAt: Date.now() });
        return reply(res, status, 'Internet server error!');
      }
      let body: Record<string, any>;
      try {
        body = JSON.parse(text) as Record<string, any>;
        if (typeof body !== 'object' || body === null) throw new Error('not an object');
      } catch {
        return reply(res, 400, 'Bad Request');
      }
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return answer(res, path, body, VIVO_CODES.FAKE_PARAM_ERROR, {}, 'Content-Type must be application/json');
      if (path === VIVO_AUTH_PATH) handleAuth(res, body);
      else handleSend(req, res, body);
    });
  });
  const { url, close } = await serveOnLoopback(server, opts.port);

  return {
    url,
    authUrl: url + VIVO_AUTH_PATH,
    pushUrl: url + VIVO_SEND_PATH,
    ca: tls.ca,
    received,
    rejected,
    counts,
    control,
    close,
  };
}
