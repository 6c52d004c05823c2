// APNs provider on top of @parse/node-apn v8 (HTTP/2, token or certificate auth).
//
// Why these node-apn settings:
// - connectionRetryLimit 0: node-apn would otherwise re-send 429/5xx up to 3
//   times immediately (it reads `Retry-After` with the wrong header case, so it
//   never waits). Our push queue owns retries and backoff; we want the raw answer.
// - Key material is handed over as Buffers, never strings: node-apn treats any
//   string without a PEM header as a *file path*, and the resulting ENOENT
//   message would echo the secret.
// - One node-apn Provider (one HTTP/2 session) per environment, created on
//   first use, so a credential that only ever targets production never opens a
//   sandbox connection.

import { readFileSync } from 'node:fs';
import apn from '@parse/node-apn';
import type { PushMessage, PushOutcome, PushProvider, PushTarget } from '../contract.ts';
import type { ApnsCredential, ApnsEnvironment } from './apns-credential.ts';
import { APNS_TOKEN_PATTERN, buildApnsRequest, type ApnsRequest } from './apns-payload.ts';
import { classifyApnsFailure, errorMessage } from './apns-outcome.ts';

const APPLE_HOSTS: Record<ApnsEnvironment, string> = {
  development: 'api.sandbox.push.apple.com',
  production: 'api.push.apple.com',
};

// Checked again here: it also keeps arbitrary strings out of the `:path` we send.
const TOKEN_RE = new RegExp(APNS_TOKEN_PATTERN);

export interface ApnsProviderOptions {
  /** node-apn per-request timeout; a timed-out request becomes `retry`. */
  requestTimeoutMs?: number;
  /** Structured log sink; entries never contain key material. */
  log?: (entry: Record<string, unknown>) => void;
}

export class ApnsProvider implements PushProvider {
  readonly name: string;
  private readonly config: ApnsCredential;
  private readonly opts: ApnsProviderOptions;
  private readonly clients = new Map<ApnsEnvironment, apn.Provider>();
  private closed = false;

  constructor(name: string, config: ApnsCredential, opts: ApnsProviderOptions = {}) {
    this.name = name;
    this.config = config;
    this.opts = opts;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.closed) return { status: 'retry', reason: 'provider closed' };
    const environment: ApnsEnvironment = target.options.environment === 'development' ? 'development' : 'production';
    if (!TOKEN_RE.test(target.token)) {
      return { status: 'dead_token', reason: `BadDeviceToken (malformed token, environment=${environment})` };
    }
    const built = buildApnsRequest(target, message, this.config.topic);
    if (!built.ok) return { status: 'rejected', reason: 'payload_too_large' };

    let client: apn.Provider;
    try {
      client = this.client(environment);
    } catch (err) {
      return { status: 'config_error', reason: `apns credential "${this.name}": ${this.redact(errorMessage(err))}` };
    }
    const outcome = await this.sendOnce(client, built.request, target.token, environment);
    if (outcome.status === 'config_error' && outcome.reason.startsWith('ExpiredProviderToken')) {
      // node-apn regenerates its JWT when it sees this answer, so one immediate
      // re-send uses a fresh token; a second failure is a real config problem (clock skew, revoked key).
      return this.sendOnce(client, built.request, target.token, environment);
    }
    return outcome;
  }

  private async sendOnce(
    client: apn.Provider,
    req: ApnsRequest,
    token: string,
    environment: ApnsEnvironment,
  ): Promise<PushOutcome> {
    const note = new apn.Notification();
    // rawPayload: node-apn sends it verbatim, so the bytes match what we measured.
    note.rawPayload = req.payload;
    note.topic = req.topic;
    note.pushType = req.pushType;
    note.priority = req.priority;
    const id = req.headers['apns-id'];
    if (id !== undefined) note.id = id;
    const expiration = req.headers['apns-expiration'];
    if (expiration !== undefined) note.expiry = Number(expiration);
    const collapseId = req.headers['apns-collapse-id'];
    if (collapseId !== undefined) note.collapseId = collapseId;

    let result: apn.Responses<apn.ResponseSent, apn.ResponseFailure>;
    try {
      result = await client.send(note, token);
    } catch (err) {
      return { status: 'retry', reason: `network: ${this.redact(errorMessage(err))}` };
    }
    const sent = result.sent[0] as (apn.ResponseSent & { 'apns-id'?: string }) | undefined;
    if (sent) {
      const vendorId = sent['apns-id'];
      return vendorId === undefined ? { status: 'delivered', httpStatus: 200 } : { status: 'delivered', vendorId, httpStatus: 200 };
    }
    const outcome = classifyApnsFailure(result.failed[0] ?? { error: new Error('no result from node-apn') }, environment);
    return 'reason' in outcome ? { ...outcome, reason: this.redact(outcome.reason) } : outcome;
  }

  private client(environment: ApnsEnvironment): apn.Provider {
    const existing = this.clients.get(environment);
    if (existing) return existing;

    const endpoint = this.config.endpoints?.[environment];
    const options: apn.ProviderOptions = {
      production: environment === 'production',
      address: endpoint?.host ?? APPLE_HOSTS[environment],
      port: endpoint?.port ?? 443,
      connectionRetryLimit: 0,
      requestTimeout: this.opts.requestTimeoutMs ?? 5000,
    };
    if (this.config.ca !== undefined) options.ca = [Buffer.from(this.config.ca)];
    if (this.config.rejectUnauthorized !== undefined) options.rejectUnauthorized = this.config.rejectUnauthorized;

    const auth = this.config.auth;
    if (auth.kind === 'token') {
      const key = auth.key !== undefined ? Buffer.from(auth.key) : readFileSync(auth.keyFile ?? '');
      options.token = { key, keyId: auth.keyId, teamId: auth.teamId };
    } else {
      if (auth.pfx !== undefined) options.pfx = Buffer.from(auth.pfx, 'base64');
      else if (auth.pfxFile !== undefined) options.pfx = readFileSync(auth.pfxFile);
      if (auth.cert !== undefined) options.cert = Buffer.from(auth.cert);
      if (auth.key !== undefined) options.key = Buffer.from(auth.key);
      if (auth.passphrase !== undefined) options.passphrase = auth.passphrase;
    }

    const client = new apn.Provider(options);
    this.clients.set(environment, client);
    this.opts.log?.({ event: 'apns client created', credential: this.name, environment, host: options.address, port: options.port });
    return client;
  }

  /** Strip anything that could be key material from text we surface. */
  private redact(text: string): string {
    let out = text.replace(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g, '[redacted]');
    const auth = this.config.auth;
    const secrets = auth.kind === 'token' ? [auth.key] : [auth.pfx, auth.passphrase, auth.key];
    for (const secret of secrets) {
      if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('[redacted]');
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(
      clients.map(
        (client) =>
          new Promise<void>((resolve) => {
            // shutdown() waits for in-flight streams; those are bounded by requestTimeout,
            // but never let a wedged session block process shutdown.
            const guard = setTimeout(resolve, 2000);
            guard.unref();
            void client.shutdown(() => {
              clearTimeout(guard);
              resolve();
            });
          }),
      ),
    );
  }
}
