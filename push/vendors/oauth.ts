// OAuth 2.0 client_credentials access tokens, cached per credential, for the vendors whose push API
// takes a bearer token from a token endpoint (Huawei Push Kit, Honor Push): fetched on first use,
// reused until shortly before `expires_in` runs out, one request in flight however many sends wait
// for it. A refused secret is a config_error (never a dead token) and is remembered for a short
// while so a burst of pushes does not hammer the token endpoint; a network, 429 or 5xx failure is
// retry (a still-valid token is used through an outage of the endpoint inside the refresh window).

import type { FailedOutcome } from './answers.ts';
import type { VendorDeps } from './contract.ts';
import { parseJsonObject, retryAfterMs, vendorRequest } from './http.ts';

/** How long a refused credential answers config_error without asking the token endpoint again. */
export const AUTH_FAILURE_HOLD_MS = 60_000;

export interface AccessToken {
  /** Goes into `Authorization: <type> <value>`. */
  value: string;
  type: string;
  expiresAt: number;
  refreshAt: number;
}

export type TokenResult = { ok: true; token: AccessToken } | { ok: false; outcome: FailedOutcome };

export interface TokenSource {
  /** The vendor's name in logs and reasons ('huawei', 'honor'). */
  vendor: string;
  url: string;
  clientId: string;
  clientSecret: string;
  /** Settings to check when the secret is refused, for the config error ("appId/clientId and appSecret"). */
  settingsHint: string;
  /** Error fields of the vendor's refusal body worth quoting (never the request). */
  errorFields: readonly string[];
  /** The vendor's facts about its token endpoint (its *-facts.ts). */
  facts: TokenEndpointFacts;
  ca?: string | undefined;
  timeoutMs?: number | undefined;
}

export interface TokenEndpointFacts {
  contentType: string;
  /** Refresh this long before expiry (or halfway through a shorter-lived token). */
  refreshEarlyMs: number;
  /** Lifetime assumed when the answer has no `expires_in`. */
  defaultTtlSec: number;
  /** HTTP statuses of the token endpoint that mean "try again later" (0 = no answer). */
  transient(status: number): boolean;
}

export class OAuthTokenCache {
  readonly #credential: string;
  readonly #source: TokenSource;
  readonly #deps: VendorDeps;
  #current: AccessToken | undefined;
  #inflight: Promise<TokenResult> | undefined;
  #refused: { outcome: FailedOutcome; until: number } | undefined;
  /** Token requests sent (for logs and tests). */
  requests = 0;

  constructor(credential: string, source: TokenSource, deps: VendorDeps) {
    this.#credential = credential;
    this.#source = source;
    this.#deps = deps;
  }

  get(): Promise<TokenResult> {
    const now = this.#deps.now();
    if (this.#refused && now < this.#refused.until) return Promise.resolve({ ok: false, outcome: this.#refused.outcome });
    if (this.#current && now < this.#current.refreshAt) return Promise.resolve({ ok: true, token: this.#current });
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** The vendor said this token expired or is unknown: forget it (only if it is still the current one). */
  invalidate(value: string): void {
    if (this.#current?.value === value) this.#current = undefined;
  }

  async #fetch(): Promise<TokenResult> {
    const { vendor, facts } = this.#source;
    const startedAt = this.#deps.now();
    this.requests++;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.#source.clientId,
      client_secret: this.#source.clientSecret,
    }).toString();
    const res = await vendorRequest({
      url: this.#source.url,
      method: 'POST',
      headers: { 'content-type': facts.contentType, accept: 'application/json' },
      body,
      ca: this.#source.ca,
      timeoutMs: this.#source.timeoutMs,
    });
    const answer = parseJsonObject(res.text);
    if (res.status === 200 && typeof answer?.access_token === 'string' && answer.access_token !== '') {
      const ttlSec = typeof answer.expires_in === 'number' && answer.expires_in > 0 ? answer.expires_in : facts.defaultTtlSec;
      const ttlMs = ttlSec * 1000;
      // Refresh 120 s early, or halfway through a token that lives less than 4 minutes.
      const early = Math.min(facts.refreshEarlyMs, ttlMs / 2);
      const token: AccessToken = {
        value: answer.access_token,
        type: typeof answer.token_type === 'string' && answer.token_type !== '' ? answer.token_type : 'Bearer',
        expiresAt: startedAt + ttlMs,
        refreshAt: startedAt + ttlMs - early,
      };
      this.#current = token;
      this.#refused = undefined;
      this.#deps.log({ vendor, event: 'oauth token fetched', credential: this.#credential, expiresInSec: ttlSec });
      return { ok: true, token };
    }

    const detail = describeAuthError(res.status, answer, res.error, this.#source.errorFields);
    if (facts.transient(res.status) || res.status === 200) {
      if (this.#current && this.#deps.now() < this.#current.expiresAt) return { ok: true, token: this.#current };
      this.#deps.log({ vendor, event: 'oauth token failed', credential: this.#credential, httpStatus: res.status, transient: true, detail });
      const after = retryAfterMs(res.headers, this.#deps.now());
      return {
        ok: false,
        outcome: {
          status: 'retry',
          reason: `${vendor} oauth token request failed: ${detail}`,
          ...(res.status ? { httpStatus: res.status } : {}),
          ...(after !== undefined ? { retryAfterMs: after } : {}),
        },
      };
    }
    this.#current = undefined;
    const outcome = {
      status: 'config_error' as const,
      reason: `${vendor} oauth refused credential "${this.#credential}" (check ${this.#source.settingsHint}): ${detail}`,
      httpStatus: res.status,
    };
    this.#refused = { outcome, until: this.#deps.now() + AUTH_FAILURE_HOLD_MS };
    this.#deps.log({ vendor, event: 'oauth token refused', credential: this.#credential, httpStatus: res.status, detail });
    return { ok: false, outcome };
  }
}


/** The vendor's error fields only, bounded; never the request. */
function describeAuthError(status: number, answer: Record<string, unknown> | undefined, networkError: string | undefined, fields: readonly string[]): string {
  if (status === 0) return `no answer (${networkError ?? 'network error'})`;
  const parts = [`HTTP ${status}`];
  for (const key of fields) {
    const v = answer?.[key];
    if (typeof v === 'string' || typeof v === 'number') parts.push(`${key}=${String(v).slice(0, 200)}`);
  }
  if (status === 200) parts.push('answer has no access_token');
  return parts.join(' ');
}
