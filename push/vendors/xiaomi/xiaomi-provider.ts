// Xiaomi MiPush provider: one registration id per send, the form request from xiaomi-payload.ts,
// the answer classified by xiaomi-outcome.ts. No token exchange: the AppSecret is the header.

import type { PushMessage, PushOutcome, PushProvider, PushTarget, VendorDeps } from '../contract.ts';
import { logAnswer, neverThrows, registrationMismatch, scrubOutcome } from '../answers.ts';
import { vendorRequest } from '../http.ts';
import type { XiaomiCredential } from './xiaomi-credential.ts';
import { xiaomiAuthorization } from './xiaomi-facts.ts';
import { classifyXiaomiAnswer } from './xiaomi-outcome.ts';
import { buildXiaomiRequest } from './xiaomi-payload.ts';

export const XIAOMI_REGISTRATION = 'xiaomi';

export class XiaomiProvider implements PushProvider {
  readonly name: string;
  readonly #credential: XiaomiCredential;
  readonly #deps: VendorDeps;
  #closed = false;

  constructor(name: string, credential: XiaomiCredential, deps: VendorDeps) {
    this.name = name;
    this.#credential = credential;
    this.#deps = deps;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    return scrubOutcome(await neverThrows('xiaomi', () => this.#send(target, message)), this.#credential.appSecret);
  }

  async #send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.#closed) return { status: 'retry', reason: 'provider closed' };
    const mismatch = registrationMismatch(target, { name: this.name, vendor: 'xiaomi', accepts: XIAOMI_REGISTRATION });
    if (mismatch) return mismatch;
    // A comma would address a second device (registration_id is a comma list).
    if (target.token === '' || target.token.includes(',')) return { status: 'dead_token', reason: 'malformed xiaomi registration id' };
    const built = buildXiaomiRequest(this.#credential, target, message, this.#deps.now());
    const startedAt = this.#deps.now();
    const res = await vendorRequest({
      url: built.request.url,
      method: 'POST',
      headers: { ...built.request.headers, authorization: xiaomiAuthorization(this.#credential.appSecret) },
      body: built.request.bodyText,
      ca: this.#credential.endpoints?.ca,
      timeoutMs: this.#credential.timeoutMs,
    });
    const { outcome, code } = classifyXiaomiAnswer(res, target.token, this.#deps.now());
    logAnswer(this.#deps, {
      vendor: 'xiaomi', credential: this.name, message, outcome, code, ms: this.#deps.now() - startedAt, secret: this.#credential.appSecret,
    });
    return outcome;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
  }
}
