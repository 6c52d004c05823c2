/**
 * One vivo credential, ready to send: `/message/send` per push with the token in the
 * `authToken` header and our push id as requestId (vivo's dedupe key), a refused token renewed
 * and the push resent once. Never throws: every failure is a PushOutcome.
 */
import type { PushMessage, PushOutcome, PushProvider, PushTarget, VendorDeps } from '../contract.ts';
import { neverThrows, registrationMismatch } from '../answers.ts';
import { vendorRequest } from '../http.ts';
import { refusalOutcome } from '../preview.ts';
import { sendRenewingTokenOnce } from '../token-renewal.ts';
import { VivoAuth } from './vivo-auth.ts';
import { vivoUrls, type VivoCredential } from './vivo-credential.ts';
import { VIVO_AUTH_HEADER, VIVO_CONTENT_TYPE, VIVO_PUSH_MODE } from './vivo-facts.ts';
import { classifyVivoSend, type VivoSendAnswer } from './vivo-outcome.ts';
import { buildVivoSend, type VivoSendBody } from './vivo-payload.ts';

export const VIVO_REGISTRATION = 'vivo';
const DEFAULT_TIMEOUT_MS = 10_000;

export class VivoProvider implements PushProvider {
  readonly name: string;
  readonly #credential: VivoCredential;
  readonly #deps: VendorDeps;
  readonly #auth: VivoAuth;
  readonly #pushUrl: string;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(name: string, credential: VivoCredential, deps: VendorDeps) {
    this.name = name;
    this.#credential = credential;
    this.#deps = deps;
    const { authUrl, pushUrl } = vivoUrls(credential);
    this.#pushUrl = pushUrl;
    this.#timeoutMs = credential.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#auth = new VivoAuth({
      credential: name,
      appId: credential.appId,
      appKey: credential.appKey,
      appSecret: credential.appSecret,
      authUrl,
      ca: credential.endpoints?.ca,
      timeoutMs: this.#timeoutMs,
      deps,
    });
  }

  send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    return neverThrows('vivo', () => this.#send(target, message));
  }

  async #send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.#closed) return { status: 'retry', reason: 'provider closed' };
    const mismatch = registrationMismatch(target, { name: this.name, vendor: 'vivo', accepts: VIVO_REGISTRATION });
    if (mismatch) return mismatch;
    if (target.token === '') return { status: 'dead_token', reason: 'empty regId' };
    const built = buildVivoSend(target, message, {
      appId: this.#credential.appId,
      pushMode: VIVO_PUSH_MODE[this.#credential.pushMode ?? 'production'],
      skipContent: this.#credential.skipContent,
    }, this.#deps.now());
    if (!built.ok) return refusalOutcome(built);

    return sendRenewingTokenOnce({
      vendor: 'vivo',
      credential: this.name,
      pushId: message.id,
      deps: this.#deps,
      token: () => this.#auth.token(),
      invalidate: (token) => this.#auth.invalidate(token),
      send: (token) => this.#post(token, built.body),
    });
  }

  async #post(authToken: string, body: VivoSendBody): Promise<VivoSendAnswer> {
    const startedAt = this.#deps.now();
    const response = await vendorRequest({
      url: this.#pushUrl,
      method: 'POST',
      headers: { 'content-type': VIVO_CONTENT_TYPE, accept: 'application/json', [VIVO_AUTH_HEADER]: authToken },
      body: JSON.stringify(body),
      timeoutMs: this.#timeoutMs,
      ...(this.#credential.endpoints?.ca !== undefined ? { ca: this.#credential.endpoints.ca } : {}),
    });
    const outcome = classifyVivoSend(response, this.#deps.now());
    this.#deps.log({
      vendor: 'vivo', credential: this.name, event: 'send', status: outcome.status, httpStatus: response.status,
      requestId: body.requestId, elapsedMs: this.#deps.now() - startedAt, ...('reason' in outcome ? { reason: outcome.reason } : {}),
    });
    return outcome;
  }

  async close(): Promise<void> {
    // The HTTPS agents are shared per origin (http.ts); closeVendorAgents() ends them at shutdown.
    this.#closed = true;
  }
}
