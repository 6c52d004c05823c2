// Huawei Push Kit provider: one device token per send, OAuth token from the cache, the request
// from huawei-payload.ts, the answer classified by huawei-outcome.ts. On 80200003 (access token
// expired) the token is refreshed and the push resent once, like Huawei's own Node demo.

import type { PushMessage, PushOutcome, PushProvider, PushTarget, VendorDeps } from '../contract.ts';
import { vendorRequest } from '../http.ts';
import { OAuthTokenCache } from '../oauth.ts';
import type { HuaweiCredential } from './huawei-credential.ts';
import { HUAWEI_AUTH_URL, HUAWEI_TOKEN_ENDPOINT, HUAWEI_CODE } from './huawei-facts.ts';
import { classifyHuaweiAnswer } from './huawei-outcome.ts';
import { buildHuaweiRequest } from './huawei-payload.ts';

export const HUAWEI_REGISTRATION = 'huawei';

export class HuaweiProvider implements PushProvider {
  readonly name: string;
  readonly #credential: HuaweiCredential;
  readonly #deps: VendorDeps;
  readonly #tokens: OAuthTokenCache;
  #closed = false;

  constructor(name: string, credential: HuaweiCredential, deps: VendorDeps) {
    this.name = name;
    this.#credential = credential;
    this.#deps = deps;
    this.#tokens = new OAuthTokenCache(name, {
      vendor: 'huawei',
      url: credential.endpoints?.authUrl ?? HUAWEI_AUTH_URL,
      clientId: credential.clientId ?? credential.appId,
      clientSecret: credential.appSecret,
      settingsHint: 'appId/clientId and appSecret',
      errorFields: ['error', 'sub_error', 'error_description'],
      facts: HUAWEI_TOKEN_ENDPOINT,
      ca: credential.endpoints?.ca,
      timeoutMs: credential.timeoutMs,
    }, deps);
  }

  /** OAuth token requests made so far (tests, metrics). */
  get tokenRequests(): number {
    return this.#tokens.requests;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    try {
      const outcome = await this.#send(target, message);
      return this.#scrubbed(outcome);
    } catch (err) {
      // Never throws: an unexpected bug is a retry, not a crash of the dispatcher.
      return this.#scrubbed({ status: 'retry', reason: `huawei provider error: ${err instanceof Error ? err.message : String(err)}` });
    }
  }

  async #send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.#closed) return { status: 'retry', reason: 'provider closed' };
    if (target.registration !== HUAWEI_REGISTRATION) {
      return { status: 'config_error', reason: `credential "${this.name}" is huawei but the target registered as ${target.registration}` };
    }
    if (target.token === '') return { status: 'dead_token', reason: 'empty huawei token' };
    const built = buildHuaweiRequest(this.#credential, target, message, this.#deps.now());
    if (!built.ok) return { status: 'rejected', reason: `payload_too_large (${built.bytes} > ${built.limit} bytes)` };

    for (let attempt = 1; ; attempt++) {
      const auth = await this.#tokens.get();
      if (!auth.ok) {
        this.#log(message, auth.outcome, undefined, attempt);
        return auth.outcome;
      }
      const startedAt = this.#deps.now();
      const res = await vendorRequest({
        url: built.request.url,
        method: 'POST',
        headers: { ...built.request.headers, authorization: `${auth.token.type} ${auth.token.value}` },
        body: built.request.bodyText,
        ca: this.#credential.endpoints?.ca,
        timeoutMs: this.#credential.timeoutMs,
      });
      const classified = classifyHuaweiAnswer(res, target.token, this.#deps.now());
      if (classified.kind === 'refresh_token') {
        this.#tokens.invalidate(auth.token.value);
        if (attempt === 1) {
          this.#deps.log({ vendor: 'huawei', event: 'access token expired, refreshing', credential: this.name, pushId: message.id });
          continue;
        }
        const outcome: PushOutcome = { status: 'retry', reason: `${classified.reason} (again after a refresh)`, httpStatus: classified.httpStatus };
        this.#log(message, outcome, classified.code, attempt, this.#deps.now() - startedAt);
        return outcome;
      }
      // A token Huawei calls unknown will not become valid; the next send fetches a new one.
      if (classified.code === HUAWEI_CODE.OAUTH_AUTH_ERROR) this.#tokens.invalidate(auth.token.value);
      this.#log(message, classified.outcome, classified.code, attempt, this.#deps.now() - startedAt);
      return classified.outcome;
    }
  }

  #log(message: PushMessage, outcome: PushOutcome, code: string | undefined, attempt: number, ms?: number): void {
    this.#deps.log({
      vendor: 'huawei',
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

  /** Vendor text is echoed into reasons; make sure the secret never rides along. */
  #scrub(text: string): string {
    const secret = this.#credential.appSecret;
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
