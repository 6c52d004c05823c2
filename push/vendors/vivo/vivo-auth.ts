/**
 * vivo auth: `POST /message/auth` with {appId, appKey, timestamp (ms),
 * sign = lowercase MD5(appId + appKey + timestamp + appSecret)} → an authToken valid 1 day.
 * vivo caps auth calls per day, so the token is kept in the vendor state store (it survives
 * restarts and is shared by every process on that store) and reused until it is due for
 * renewal; concurrent sends that need a token share one auth request.
 */
import { createHash } from 'node:crypto';
import type { VendorDeps } from '../contract.ts';
import { vendorRequest } from '../http.ts';
import { VIVO_CONTENT_TYPE, VIVO_TOKEN_EXPIRY_MARGIN_MS, VIVO_TOKEN_RENEW_AFTER_MS, VIVO_TOKEN_TTL_MS } from './vivo-facts.ts';
import { classifyVivoAuth, type VivoAuthAnswer } from './vivo-outcome.ts';

export function vivoSign(appId: number | string, appKey: string, timestamp: number | string, appSecret: string): string {
  return createHash('md5').update(`${appId}${appKey}${timestamp}${appSecret}`, 'utf8').digest('hex');
}

export function vivoAuthBody(appId: number, appKey: string, appSecret: string, timestamp: number): string {
  return JSON.stringify({ appId, appKey, timestamp, sign: vivoSign(appId, appKey, timestamp, appSecret) });
}

/**
 * Where one credential's token lives in the state store. The AppKey goes in as a hash only, so
 * a changed key never reuses an old token and the store never holds key material.
 */
export function vivoTokenStateKey(credential: string, appId: number, appKey: string): string {
  return `vivo:authToken:${credential}:${appId}:${createHash('sha256').update(appKey).digest('hex').slice(0, 16)}`;
}

interface HeldToken {
  token: string;
  issuedAt: number;
}

export interface VivoAuthOptions {
  credential: string;
  appId: number;
  appKey: string;
  appSecret: string;
  authUrl: string;
  ca?: string | undefined;
  timeoutMs: number;
  deps: VendorDeps;
}

export class VivoAuth {
  readonly #options: VivoAuthOptions;
  readonly #stateKey: string;
  #held: HeldToken | undefined;
  #inFlight: Promise<VivoAuthAnswer> | undefined;

  constructor(options: VivoAuthOptions) {
    this.#options = options;
    this.#stateKey = vivoTokenStateKey(options.credential, options.appId, options.appKey);
  }

  /** A valid token, or the outcome that explains why there is none. */
  token(): Promise<VivoAuthAnswer> {
    const now = this.#options.deps.now();
    if (this.#held && now < this.#held.issuedAt + VIVO_TOKEN_RENEW_AFTER_MS) return Promise.resolve({ ok: true, token: this.#held.token });
    this.#inFlight ??= this.#obtain().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** vivo refused this token: forget it here and in the store, unless a newer one replaced it. */
  async invalidate(token: string): Promise<void> {
    if (this.#held?.token !== token) return;
    this.#held = undefined;
    await this.#options.deps.state.set(this.#stateKey, '', this.#options.deps.now()).catch(() => undefined);
  }

  #usable(held: HeldToken | undefined, now: number): held is HeldToken {
    return held !== undefined && now < held.issuedAt + VIVO_TOKEN_TTL_MS - VIVO_TOKEN_EXPIRY_MARGIN_MS;
  }

  async #obtain(): Promise<VivoAuthAnswer> {
    const { deps } = this.#options;
    if (!this.#usable(this.#held, deps.now())) this.#held = await this.#load();
    const now = deps.now();
    if (this.#usable(this.#held, now) && now < this.#held.issuedAt + VIVO_TOKEN_RENEW_AFTER_MS) return { ok: true, token: this.#held.token };

    const answer = await this.#authenticate();
    if (answer.ok) return answer;
    // Renewal failed (e.g. 10250, the day's auth calls are used up): the older token still works.
    const held = this.#held;
    if (this.#usable(held, deps.now())) {
      deps.log({ vendor: 'vivo', credential: this.#options.credential, event: 'auth_renewal_failed_using_older_token', reason: answer.outcome.reason });
      return { ok: true, token: held.token };
    }
    return answer;
  }

  async #load(): Promise<HeldToken | undefined> {
    let text: string | undefined;
    try {
      text = await this.#options.deps.state.get(this.#stateKey);
    } catch {
      return undefined; // a broken store costs one auth call, never a push
    }
    if (!text) return undefined;
    try {
      const held = JSON.parse(text) as Partial<HeldToken>;
      if (typeof held.token === 'string' && held.token !== '' && typeof held.issuedAt === 'number') return { token: held.token, issuedAt: held.issuedAt };
    } catch {
      // fall through: an unreadable entry is as good as none
    }
    return undefined;
  }

  async #authenticate(): Promise<VivoAuthAnswer> {
    const { appId, appKey, appSecret, authUrl, ca, timeoutMs, deps, credential } = this.#options;
    const startedAt = deps.now();
    const response = await vendorRequest({
      url: authUrl,
      method: 'POST',
      headers: { 'content-type': VIVO_CONTENT_TYPE, accept: 'application/json' },
      body: vivoAuthBody(appId, appKey, appSecret, startedAt),
      timeoutMs,
      ...(ca !== undefined ? { ca } : {}),
    });
    const answer = classifyVivoAuth(response, deps.now());
    if (!answer.ok) {
      deps.log({ vendor: 'vivo', credential, event: 'auth_failed', outcome: answer.outcome.status, reason: answer.outcome.reason });
      return answer;
    }
    // The day counts from when we asked, never later than vivo's own issue time.
    this.#held = { token: answer.token, issuedAt: startedAt };
    const expiresAt = startedAt + VIVO_TOKEN_TTL_MS - VIVO_TOKEN_EXPIRY_MARGIN_MS;
    await deps.state.set(this.#stateKey, JSON.stringify(this.#held), expiresAt).catch((err: unknown) => {
      deps.log({ vendor: 'vivo', credential, event: 'auth_token_not_persisted', error: err instanceof Error ? err.message : String(err) });
    });
    deps.log({ vendor: 'vivo', credential, event: 'auth_token_issued', elapsedMs: deps.now() - startedAt });
    return answer;
  }
}
