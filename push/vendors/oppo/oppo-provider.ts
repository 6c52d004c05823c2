/**
 * One OPPO credential, ready to send: a unicast per push (IM messages must not go by broadcast,
 * which OPPO caps at a few a day per user), a token refused with code 11 renewed and the push
 * resent once. Never throws: every failure is a PushOutcome.
 */
import type { PushMessage, PushOutcome, PushProvider, PushTarget, VendorDeps } from '../contract.ts';
import { neverThrows, registrationMismatch } from '../answers.ts';
import { vendorRequest } from '../http.ts';
import { refusalOutcome } from '../preview.ts';
import { sendRenewingTokenOnce } from '../token-renewal.ts';
import { OppoAuth } from './oppo-auth.ts';
import { oppoUrls, type OppoCredential } from './oppo-credential.ts';
import { OPPO_FORM_CONTENT_TYPE } from './oppo-facts.ts';
import { classifyOppoSend, type OppoSendAnswer } from './oppo-outcome.ts';
import { buildOppoMessage, oppoUnicastForm, type OppoMessage } from './oppo-payload.ts';

export const OPPO_REGISTRATION = 'oppo';
const DEFAULT_TIMEOUT_MS = 10_000;

export class OppoProvider implements PushProvider {
  readonly name: string;
  readonly #credential: OppoCredential;
  readonly #deps: VendorDeps;
  readonly #auth: OppoAuth;
  readonly #pushUrl: string;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(name: string, credential: OppoCredential, deps: VendorDeps) {
    this.name = name;
    this.#credential = credential;
    this.#deps = deps;
    const { authUrl, pushUrl } = oppoUrls(credential);
    this.#pushUrl = pushUrl;
    this.#timeoutMs = credential.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#auth = new OppoAuth({
      credential: name,
      appKey: credential.appKey,
      masterSecret: credential.masterSecret,
      authUrl,
      ca: credential.endpoints?.ca,
      timeoutMs: this.#timeoutMs,
      deps,
    });
  }

  send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    return neverThrows('oppo', () => this.#send(target, message));
  }

  async #send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.#closed) return { status: 'retry', reason: 'provider closed' };
    const mismatch = registrationMismatch(target, { name: this.name, vendor: 'OPPO', accepts: OPPO_REGISTRATION });
    if (mismatch) return mismatch;
    if (target.token === '') return { status: 'dead_token', reason: 'empty registration id' };
    const built = buildOppoMessage(target, message, { channelId: this.#credential.channelId ?? '', clickActivity: this.#credential.clickActivity }, this.#deps.now());
    if (!built.ok) return refusalOutcome(built);

    return sendRenewingTokenOnce({
      vendor: 'oppo',
      credential: this.name,
      pushId: message.id,
      deps: this.#deps,
      token: () => this.#auth.token(),
      invalidate: (token) => this.#auth.invalidate(token),
      send: (token) => this.#unicast(token, built.message),
    });
  }

  async #unicast(authToken: string, message: OppoMessage): Promise<OppoSendAnswer> {
    const startedAt = this.#deps.now();
    const response = await vendorRequest({
      url: this.#pushUrl,
      method: 'POST',
      headers: { 'content-type': OPPO_FORM_CONTENT_TYPE, accept: 'application/json' },
      body: oppoUnicastForm(authToken, message),
      timeoutMs: this.#timeoutMs,
      ...(this.#credential.endpoints?.ca !== undefined ? { ca: this.#credential.endpoints.ca } : {}),
    });
    const outcome = classifyOppoSend(response, this.#deps.now());
    this.#deps.log({
      vendor: 'oppo', credential: this.name, event: 'unicast', status: outcome.status, httpStatus: response.status,
      elapsedMs: this.#deps.now() - startedAt, ...('reason' in outcome ? { reason: outcome.reason } : {}),
    });
    return outcome;
  }

  async close(): Promise<void> {
    // The HTTPS agents are shared per origin (http.ts); closeVendorAgents() ends them at shutdown.
    this.#closed = true;
  }
}
