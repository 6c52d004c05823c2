/**
 * One VAPID key pair, ready to send to any browser's push service through web-push's
 * sendNotification(): aes128gcm encryption with the subscription's keys, a VAPID JWT for the
 * endpoint's origin, TTL/Urgency/Topic from the push. Never throws: every failure is a PushOutcome.
 */
import https from 'node:https';
import webpush from 'web-push';
import type { PushMessage, PushOutcome, PushProvider, PushTarget, VendorDeps } from '../contract.ts';
import { registrationMismatch } from '../answers.ts';
import type { WebPushCredential } from './webpush-credential.ts';
import { WEBPUSH_CONTENT_ENCODING, WEBPUSH_REGISTRATION } from './webpush-facts.ts';
import { classifyWebPushError, classifyWebPushSuccess } from './webpush-outcome.ts';
import { buildWebPush } from './webpush-payload.ts';
import { parseStoredSubscription } from './webpush-subscription.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

/** The push service's origin only: endpoint paths identify a subscriber and stay out of logs. */
function origin(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return 'invalid-endpoint';
  }
}

export class WebPushProvider implements PushProvider {
  readonly name: string;
  readonly #credential: WebPushCredential;
  readonly #deps: VendorDeps;
  readonly #agent: https.Agent;
  #closed = false;

  constructor(name: string, credential: WebPushCredential, deps: VendorDeps) {
    this.name = name;
    this.#credential = credential;
    this.#deps = deps;
    const ca = credential.endpoints?.ca;
    this.#agent = new https.Agent({ keepAlive: true, maxSockets: 64, ...(ca !== undefined ? { ca } : {}) });
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    try {
      return await this.#send(target, message);
    } catch (err) {
      return { status: 'retry', reason: `web push provider error: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  async #send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.#closed) return { status: 'retry', reason: 'provider closed' };
    const mismatch = registrationMismatch(target, { name: this.name, vendor: 'Web Push', accepts: WEBPUSH_REGISTRATION });
    if (mismatch) return mismatch;
    const parsed = parseStoredSubscription(target.token);
    if (!parsed.ok) return { status: 'dead_token', reason: `unusable subscription: ${parsed.problem}` };
    const built = buildWebPush(message, this.#deps.now());
    if (!built.ok) return { status: 'rejected', reason: 'payload_too_large' };

    const { subject, publicKey, privateKey } = this.#credential;
    const startedAt = this.#deps.now();
    let outcome: PushOutcome;
    try {
      const result = await webpush.sendNotification(parsed.subscription, built.json, {
        ...built.options,
        contentEncoding: WEBPUSH_CONTENT_ENCODING,
        vapidDetails: { subject, publicKey, privateKey },
        timeout: this.#credential.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS,
        agent: this.#agent,
      });
      outcome = classifyWebPushSuccess(result);
    } catch (err) {
      outcome = classifyWebPushError(err, this.#deps.now());
    }
    this.#deps.log({
      vendor: 'webpush', credential: this.name, event: 'send', service: origin(parsed.subscription.endpoint), status: outcome.status,
      httpStatus: outcome.httpStatus, elapsedMs: this.#deps.now() - startedAt, ...('reason' in outcome ? { reason: outcome.reason } : {}),
    });
    return outcome;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#agent.destroy();
  }
}
