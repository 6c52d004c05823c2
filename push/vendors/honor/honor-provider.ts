// Honor Push provider: one device token per send, OAuth token from the cache, the request from
// honor-payload.ts, the answer classified by honor-outcome.ts. An access token Honor refuses (HTTP
// 401) is dropped and the push resent once with a fresh token; a second refusal is config_error.

import type { PushMessage, PushOutcome, PushProvider, PushTarget, VendorDeps } from '../contract.ts';
import { neverThrows, registrationMismatch, scrubOutcome } from '../answers.ts';
import { OAuthTokenCache } from '../oauth.ts';
import { sendWithAccessToken } from '../oauth-send.ts';
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
    return scrubOutcome(await neverThrows('honor', () => this.#send(target, message)), this.#credential.clientSecret);
  }

  async #send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.#closed) return { status: 'retry', reason: 'provider closed' };
    const mismatch = registrationMismatch(target, { name: this.name, vendor: 'honor', accepts: HONOR_REGISTRATION });
    if (mismatch) return mismatch;
    if (target.token === '') return { status: 'dead_token', reason: 'empty honor token' };

    return sendWithAccessToken({
      vendor: 'honor',
      credential: this.name,
      secret: this.#credential.clientSecret,
      message,
      tokens: this.#tokens,
      deps: this.#deps,
      ca: this.#credential.endpoints?.ca,
      timeoutMs: this.#credential.timeoutMs,
      // Built per attempt: the `timestamp` header is the send time.
      request: () => {
        const built = buildHonorRequest(this.#credential, target, message, this.#deps.now());
        return built.ok
          ? { ok: true, request: built.request }
          : { ok: false, outcome: { status: 'rejected', reason: `payload_too_large (${built.bytes} > ${built.limit} bytes)` } };
      },
      classify: (res) => classifyHonorAnswer(res, target.token, this.#deps.now()),
      refreshEvent: 'access token refused, refreshing',
      refusedAgain: (refusal) => ({
        status: 'config_error',
        reason: `${refusal.reason} again with a fresh token (check appId, clientId and the push service switch)`,
        httpStatus: refusal.httpStatus,
      }),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
  }
}
