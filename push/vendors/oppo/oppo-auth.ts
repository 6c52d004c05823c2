/**
 * OPPO auth: `POST /server/v1/auth` with app_key, timestamp (ms) and
 * sign = lowercase hex SHA-256(app_key + timestamp + master_secret) → an auth_token valid 24 h.
 * One cached token per credential, taken anew before the 24 h are up; concurrent sends that
 * need a token share one auth request.
 */
import { createHash } from 'node:crypto';
import type { VendorDeps } from '../contract.ts';
import { vendorRequest } from '../http.ts';
import { OPPO_FORM_CONTENT_TYPE, OPPO_TOKEN_REFRESH_MARGIN_MS, OPPO_TOKEN_TTL_MS } from './oppo-facts.ts';
import { classifyOppoAuth, type OppoAuthAnswer } from './oppo-outcome.ts';

export function oppoSign(appKey: string, timestamp: number | string, masterSecret: string): string {
  return createHash('sha256').update(`${appKey}${timestamp}${masterSecret}`, 'utf8').digest('hex');
}

export function oppoAuthForm(appKey: string, masterSecret: string, timestamp: number): string {
  return new URLSearchParams({ app_key: appKey, timestamp: String(timestamp), sign: oppoSign(appKey, timestamp, masterSecret) }).toString();
}

export interface OppoAuthOptions {
  credential: string;
  appKey: string;
  masterSecret: string;
  authUrl: string;
  ca?: string | undefined;
  timeoutMs: number;
  deps: VendorDeps;
}

export class OppoAuth {
  readonly #options: OppoAuthOptions;
  #cached: { token: string; refreshAt: number } | undefined;
  #inFlight: Promise<OppoAuthAnswer> | undefined;

  constructor(options: OppoAuthOptions) {
    this.#options = options;
  }

  /** A valid token, or the outcome that explains why there is none. */
  token(): Promise<OppoAuthAnswer> {
    const { deps } = this.#options;
    if (this.#cached && deps.now() < this.#cached.refreshAt) return Promise.resolve({ ok: true, token: this.#cached.token });
    this.#inFlight ??= this.#authenticate().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** OPPO refused this token (code 11): forget it unless a newer one already replaced it. */
  invalidate(token: string): void {
    if (this.#cached?.token === token) this.#cached = undefined;
  }

  async #authenticate(): Promise<OppoAuthAnswer> {
    const { appKey, masterSecret, authUrl, ca, timeoutMs, deps, credential } = this.#options;
    const startedAt = deps.now();
    const response = await vendorRequest({
      url: authUrl,
      method: 'POST',
      headers: { 'content-type': OPPO_FORM_CONTENT_TYPE, accept: 'application/json' },
      body: oppoAuthForm(appKey, masterSecret, startedAt),
      timeoutMs,
      ...(ca !== undefined ? { ca } : {}),
    });
    const answer = classifyOppoAuth(response, deps.now());
    if (answer.ok) {
      // The 24 h count from when we asked, never later than OPPO's own create_time.
      this.#cached = { token: answer.token, refreshAt: startedAt + OPPO_TOKEN_TTL_MS - OPPO_TOKEN_REFRESH_MARGIN_MS };
      deps.log({ vendor: 'oppo', credential, event: 'auth_token_issued', elapsedMs: deps.now() - startedAt });
    } else {
      deps.log({ vendor: 'oppo', credential, event: 'auth_failed', outcome: answer.outcome.status, reason: answer.outcome.reason });
    }
    return answer;
  }
}
