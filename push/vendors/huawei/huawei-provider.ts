// Huawei Push Kit provider: one device token per send, OAuth token from the cache, the request
// from huawei-payload.ts, the answer classified by huawei-outcome.ts. On 80200003 (access token
// expired) the token is refreshed and the push resent once, like Huawei's own Node demo.

import type { PushMessage, PushOutcome, PushProvider, PushTarget, VendorDeps } from '../contract.ts';
import { neverThrows, registrationMismatch, scrubOutcome } from '../answers.ts';
import { OAuthTokenCache } from '../oauth.ts';
import { sendWithAccessToken } from '../oauth-send.ts';
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
    // Vendor text is echoed into reasons; make sure the secret never rides along.
    return scrubOutcome(await neverThrows('huawei', () => this.#send(target, message)), this.#credential.appSecret);
  }

  async #send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.#closed) return { status: 'retry', reason: 'provider closed' };
    const mismatch = registrationMismatch(target, { name: this.name, vendor: 'huawei', accepts: HUAWEI_REGISTRATION });
    if (mismatch) return mismatch;
    if (target.token === '') return { status: 'dead_token', reason: 'empty huawei token' };
    const built = buildHuaweiRequest(this.#credential, target, message, this.#deps.now());
    if (!built.ok) return { status: 'rejected', reason: `payload_too_large (${built.bytes} > ${built.limit} bytes)` };

    return sendWithAccessToken({
      vendor: 'huawei',
      credential: this.name,
      secret: this.#credential.appSecret,
      message,
      tokens: this.#tokens,
      deps: this.#deps,
      ca: this.#credential.endpoints?.ca,
      timeoutMs: this.#credential.timeoutMs,
      // Built once: a resend after a refresh is the same request.
      request: () => ({ ok: true, request: built.request }),
      classify: (res) => {
        const classified = classifyHuaweiAnswer(res, target.token, this.#deps.now());
        if (classified.kind === 'refresh_token') return { ...classified, kind: 'reauth' };
        // A token Huawei calls unknown will not become valid; the next send fetches a new one.
        return { ...classified, dropToken: classified.code === HUAWEI_CODE.OAUTH_AUTH_ERROR };
      },
      refreshEvent: 'access token expired, refreshing',
      refusedAgain: (refusal) => ({ status: 'retry', reason: `${refusal.reason} (again after a refresh)`, httpStatus: refusal.httpStatus }),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
  }
}
