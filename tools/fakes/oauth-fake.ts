// An OAuth 2.0 client_credentials issuer for the fake vendors that use one (Huawei, Honor): checks
// grant_type, client_id and client_secret exactly, mints opaque access tokens with an expiry, and
// tells a send endpoint whether a bearer token is missing, unknown, expired or good. The answer
// shapes (success and error bodies) are the vendor's, passed in as an `OAuthAnswers` style.

import { randomBytes } from 'node:crypto';

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
  /** The app the tokens of this client may send for (the `{appId}` in the send path). */
  appId: string;
}

export interface IssuedToken {
  accessToken: string;
  clientId: string;
  appId: string;
  issuedAt: number;
  expiresAt: number;
}

export interface OAuthGrantRecord {
  clientId: string;
  grantType: string;
  ok: boolean;
  /** Why it was refused ('wrong_secret', 'unknown_client', …) or the injected failure status. */
  refused?: string;
  httpStatus: number;
  receivedAt: number;
}

export type OAuthRefusal = 'unsupported_grant_type' | 'missing_parameter' | 'unknown_client' | 'wrong_secret' | 'wrong_content_type';

export interface OAuthAnswers {
  success(accessToken: string, ttlSec: number): Record<string, unknown>;
  refusal(kind: OAuthRefusal): { httpStatus: number; body: Record<string, unknown> };
}

export type BearerCheck = { ok: true; token: IssuedToken } | { ok: false; why: 'missing' | 'unknown' | 'expired' };

export interface OAuthReply {
  httpStatus: number;
  body: Record<string, unknown> | string;
  headers?: Record<string, string>;
}

export class FakeOAuthIssuer {
  readonly grants: OAuthGrantRecord[] = [];
  /** Lifetime of newly minted tokens (seconds). */
  ttlSec: number;
  /** Mint tokens that are already expired (to test "expired twice"). */
  issueExpired = false;
  readonly #clients: Map<string, OAuthClient>;
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #answers: OAuthAnswers;
  readonly #now: () => number;
  readonly #failures: { httpStatus: number; retryAfterSec?: number }[] = [];

  constructor(opts: { clients: OAuthClient[]; ttlSec: number; answers: OAuthAnswers; now?: () => number }) {
    this.#clients = new Map(opts.clients.map((c) => [c.clientId, { ...c }]));
    this.ttlSec = opts.ttlSec;
    this.#answers = opts.answers;
    this.#now = opts.now ?? Date.now;
  }

  /** Answer the next n token requests with this HTTP status (5xx outage, 429). */
  failNext(n: number, httpStatus: number, retryAfterSec?: number): void {
    for (let i = 0; i < n; i++) this.#failures.push({ httpStatus, ...(retryAfterSec !== undefined ? { retryAfterSec } : {}) });
  }

  /** Every token issued so far is expired from now on. */
  expireAll(): void {
    const now = this.#now();
    for (const token of this.#tokens.values()) token.expiresAt = Math.min(token.expiresAt, now - 1);
  }

  reset(ttlSec: number): void {
    this.ttlSec = ttlSec;
    this.issueExpired = false;
    this.#failures.length = 0;
  }

  handle(formText: string, contentType: string | undefined): OAuthReply {
    const form = new URLSearchParams(formText);
    const grantType = form.get('grant_type') ?? '';
    const clientId = form.get('client_id') ?? '';
    const record = (ok: boolean, httpStatus: number, refused?: string): void => {
      this.grants.push({ clientId, grantType, ok, httpStatus, receivedAt: this.#now(), ...(refused !== undefined ? { refused } : {}) });
    };
    const refuse = (kind: OAuthRefusal): OAuthReply => {
      const answer = this.#answers.refusal(kind);
      record(false, answer.httpStatus, kind);
      return { httpStatus: answer.httpStatus, body: answer.body };
    };
    const failure = this.#failures.shift();
    if (failure) {
      record(false, failure.httpStatus, `injected ${failure.httpStatus}`);
      return {
        httpStatus: failure.httpStatus,
        body: 'Service Unavailable',
        ...(failure.retryAfterSec !== undefined ? { headers: { 'retry-after': String(failure.retryAfterSec) } } : {}),
      };
    }
    if (!/^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) return refuse('wrong_content_type');
    if (grantType !== 'client_credentials') return refuse('unsupported_grant_type');
    const secret = form.get('client_secret');
    if (clientId === '' || secret === null || secret === '') return refuse('missing_parameter');
    const client = this.#clients.get(clientId);
    if (!client) return refuse('unknown_client');
    if (client.clientSecret !== secret) return refuse('wrong_secret');

    const now = this.#now();
    const accessToken = randomBytes(48).toString('base64');
    this.#tokens.set(accessToken, {
      accessToken,
      clientId,
      appId: client.appId,
      issuedAt: now,
      expiresAt: this.issueExpired ? now - 1 : now + this.ttlSec * 1000,
    });
    record(true, 200);
    return { httpStatus: 200, body: this.#answers.success(accessToken, this.ttlSec) };
  }

  /** Check an `Authorization` header of the form `Bearer <token>`. */
  check(authorization: string | undefined): BearerCheck {
    const m = /^Bearer (\S+)$/.exec(authorization ?? '');
    if (!m?.[1]) return { ok: false, why: 'missing' };
    const token = this.#tokens.get(m[1]);
    if (!token) return { ok: false, why: 'unknown' };
    if (token.expiresAt <= this.#now()) return { ok: false, why: 'expired' };
    return { ok: true, token };
  }
}

/** The test controls of a fake whose sends take this issuer's bearer tokens (Huawei, Honor). */
export interface OAuthFakeControl<Failure> {
  /** Device tokens the vendor answers as invalid or expired (how is the vendor's). */
  deadTokens: Set<string>;
  /** Flow control on every send: HTTP 503, with Retry-After when quotaRetryAfterSec is set. */
  quotaExceeded: boolean;
  quotaRetryAfterSec: number | undefined;
  /** Every access token issued so far is expired from now on. */
  expireAccessTokens(): void;
  /** Newly issued tokens are already expired. */
  issueExpiredTokens: boolean;
  /** The next n sends answer this. */
  failNext(n: number, failure: Failure): void;
  /** The next n token requests answer this HTTP status. */
  failTokenRequests(n: number, httpStatus: number, retryAfterSec?: number): void;
  latencyMs: number;
  /** Extra delay on the token endpoint only (to make concurrent sends overlap). */
  tokenLatencyMs: number;
  tokenTtlSec: number;
  reset(): void;
}

/**
 * The controls over `issuer` and the queue of injected send failures (the fake's handler shifts
 * it); reset() restores `defaults` and calls `onReset` for the fake's own controls.
 */
export function oauthFakeControl<Failure extends object>(
  issuer: FakeOAuthIssuer,
  failures: Failure[],
  defaults: { latencyMs: number; tokenTtlSec: number },
  onReset: () => void = () => undefined,
): OAuthFakeControl<Failure> {
  const control: OAuthFakeControl<Failure> = {
    deadTokens: new Set(),
    quotaExceeded: false,
    quotaRetryAfterSec: undefined,
    expireAccessTokens: () => issuer.expireAll(),
    get issueExpiredTokens() { return issuer.issueExpired; },
    set issueExpiredTokens(v: boolean) { issuer.issueExpired = v; },
    failNext(n, failure) { for (let i = 0; i < n; i++) failures.push({ ...failure }); },
    failTokenRequests: (n, httpStatus, retryAfterSec) => issuer.failNext(n, httpStatus, retryAfterSec),
    latencyMs: defaults.latencyMs,
    tokenLatencyMs: 0,
    get tokenTtlSec() { return issuer.ttlSec; },
    set tokenTtlSec(v: number) { issuer.ttlSec = v; },
    reset() {
      onReset();
      control.deadTokens.clear();
      control.quotaExceeded = false;
      control.quotaRetryAfterSec = undefined;
      control.latencyMs = defaults.latencyMs;
      control.tokenLatencyMs = 0;
      failures.length = 0;
      issuer.reset(defaults.tokenTtlSec);
    },
  };
  return control;
}
