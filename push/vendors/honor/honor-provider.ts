// Honor Push provider: one device token per send, OAuth token from the cache, the request from
// honor-payload.ts, the answer classified by honor-outcome.ts. An access token Honor refuses (HTTP
// 401) is dropped and the push resent once with a fresh token; a second refusal is config_error.

import type { PushMessage, PushOutcome, PushProvider, PushTarget, VendorDeps } from '../contract.ts';
import { vendorRequest } from '../http.ts';
import { OAuthTokenCache } from '../oauth.ts';
import type { HonorCredential } from './honor-credential.ts';
import { HONOR_AUTH_URL, HONOR_TOKEN_ENDPOINT } from './honor-facts.ts';
import { classifyHonorAnswer } from './honor-outcome.ts';
import { buildHonorRequest } from './honor-payload.ts';

export const HONOR_REGISTRATION = 'honor';

export class HonorProvider implements PushProvider {
  readonly name: string;
  readonly #credential: HonorCredential;
  readonly #deps: VendorDeps;
  readonly #tokens: OAuthTokenCache;
  #closed = false;

  constructor(name: string, credential: HonorCredential, deps: VendorDeps) {
    this.name = name;
    this.#credential = credential;
    this.#deps = deps;
    this.#tokens = new OAuthTokenCache(name, {
      vendor: 'honor',
      url: credential.endpoints?.authUrl ?? HONOR_AUTH_URL,
      clientId: credential.clientId,
      clientSecret: credential.clientSecret,
      settingsHint: 'clientId and clientSecret',
      errorFields: ['error', 'error_description'],
      facts: HONOR_TOKEN_ENDPOINT,
      ca: credential.endpoints?.ca,
      timeoutMs: credential.timeoutMs,
    }, deps);
  }

  get tokenRequests(): number {
    return this.#tokens.requests;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    try {
      return this.#scrubbed(await this.#send(target, message));
    } catch (err) {
      return this.#scrubbed({ status: 'retry', reason: `honor provider error: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  async #send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.#closed) return { status: 'retry', reason: 'provider closed' };
    if (target.registration !== HONOR_REGISTRATION) {
      return { status: 'config_error', reason: `credential "${this.name}" is honor but the target registered as ${target.registration}` };
    }
    if (target.token === '') return { status: 'dead_token', reason: 'empty honor token' };

    for (let attempt = 1; ; attempt++) {
      const auth = await this.#tokens.get();
      if (!auth.ok) {
        this.#log(message, auth.outcome, undefined, attempt);
        return auth.outcome;
      }
      // Built per attempt: the `timestamp` header is the send time.
      const built = buildHonorRequest(this.#credential, target, message, this.#deps.now());
      if (!built.ok) return { status: 'rejected', reason: `payload_too_large (${built.bytes} > ${built.limit} bytes)` };
      const startedAt = this.#deps.now();
      const res = await vendorRequest({
        url: built.request.url,
        method: 'POST',
        headers: { ...built.request.headers, authorization: `${auth.token.type} ${auth.token.value}` },
        body: built.request.bodyText,
        ca: this.#credential.endpoints?.ca,
        timeoutMs: this.#credential.timeoutMs,
      });
      const classified = classifyHonorAnswer(res, target.token, this.#deps.now());
      if (classified.kind === 'reauth') {
        this.#tokens.invalidate(auth.token.value);
        if (attempt === 1) {
          this.#deps.log({ vendor: 'honor', event: 'access token refused, refreshing', credential: this.name, pushId: message.id });
          continue;
        }
        const outcome: PushOutcome = {
          status: 'config_error',
          reason: `${classified.reason} again with a fresh token (check appId, clientId and the push service switch)`,
          httpStatus: classified.httpStatus,
        };
        this.#log(message, outcome, classified.code, attempt, this.#deps.now() - startedAt);
        return outcome;
      }
      this.#log(message, classified.outcome, classified.code, attempt, this.#deps.now() - startedAt);
      return classified.outcome;
    }
  }

  #log(message: PushMessage, outcome: PushOutcome, code: string | undefined, attempt: number, ms?: number): void {
    this.#deps.log({
      vendor: 'honor',
      event: 'push answered',
      credential: this.name,
      pushId: message.id,
      purpose: message.purpose,
      status: outcome.status,
      ...(code !== undefined ? { code } : {}),
      ...(outcome.httpStatus !== undefined ? { httpStatus: outcome.httpStatus } : {}),
      ...(attempt > 1 ? { attempt } : {}),
      ...(ms !== undefined ? { ms } : {}),
      ...('reason' in outcome ? { reason: this.#scrub(outcome.reason) } : {}),
    });
  }

  #scrub(text: string): string {
    const secret = this.#credential.clientSecret;
    return secret.length >= 4 ? text.split(secret).join('<redacted>') : text;
  }

  #scrubbed(outcome: PushOutcome): PushOutcome {
    return 'reason' in outcome ? { ...outcome, reason: this.#scrub(outcome.reason) } : outcome;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
  }
}
