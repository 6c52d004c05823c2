// FCM provider on top of firebase-admin v13 (`getMessaging(app).send()`).
//
// Why redirection goes through an http.Agent (test/fake endpoints only):
// - firebase-admin has no "endpoint" option for messaging, and the OAuth2
//   token URL is hard-coded in google-auth-library (https://oauth2.googleapis.com/token;
//   the service account's token_uri is ignored). Both, however, accept an
//   http.Agent: AppOptions.httpAgent is used by `send()`, and
//   `cert(serviceAccount, httpAgent)` is used for the JWT-bearer token grant.
// - `send()` goes over HTTP/1.1 through that agent. `sendEach()` /
//   `sendEachForMulticast()` use an HTTP/2 session that ignores the agent
//   (unless `enableLegacyHttpTransport()` is called), so we deliberately send
//   one message per `send()` call.
// - The agent swaps only the TCP/TLS destination. URLs, Host headers, SNI and
//   certificate name checks still use the real Google hostnames, so the fake is
//   exercised with exactly the requests production would make.
// - Caveat (firebase-admin 13.10 + google-auth-library 10): `cert(object, agent)`
//   drops the agent — populateGoogleAuth() calls `auth.fromJSON(json)` without
//   the client options — so an inline service account would still dial the real
//   oauth2.googleapis.com. `cert(path, agent)` does honour it (the key file is
//   loaded through GoogleAuth with the agent-carrying client options), hence a
//   redirected credential must use `serviceAccountFile` (enforced in
//   fcm-credential.ts). No private-API patching, no key written to disk by us.
// - Second caveat: `cert()` memoizes credentials process-wide by the JSON of its
//   first argument and ignores the agent on a cache hit. A later provider for
//   the same service-account path (config reload, a test starting a new fake)
//   would get the *first* agent for its OAuth exchange. So redirect agents are
//   shared per path and re-targeted to the newest endpoint (last one wins if
//   two live registries redirect the same path to different fakes).
// - In production no agent is passed and Node's default keep-alive agent is used.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cert, deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getMessaging, type Messaging } from 'firebase-admin/messaging';
import type { PushMessage, PushOutcome, PushProvider, PushTarget } from '../contract.ts';
import type { FcmCredential } from './fcm-credential.ts';
import { RedirectingAgent } from './fcm-agent.ts';
import { buildFcmMessage } from './fcm-payload.ts';
import { classifyFcmError } from './fcm-outcome.ts';

export interface FcmProviderOptions {
  /** Structured log sink; entries never contain key material. */
  log?: (entry: Record<string, unknown>) => void;
}

/** Load the service account without letting parse errors echo file contents (the private key). */
export function loadServiceAccount(config: FcmCredential): Record<string, unknown> {
  if (config.serviceAccount) return { ...config.serviceAccount };
  if (config.serviceAccountFile === undefined) throw new Error('no serviceAccount or serviceAccountFile');
  let text: string;
  try {
    text = readFileSync(config.serviceAccountFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new Error(`cannot read serviceAccountFile ${config.serviceAccountFile} (${code})`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new Error(`serviceAccountFile ${config.serviceAccountFile} is not a JSON object`);
  }
}

const sharedAgents = new Map<string, RedirectingAgent>();

function redirectAgentFor(serviceAccountFile: string, endpoint: NonNullable<FcmCredential['endpoint']>): RedirectingAgent {
  const existing = sharedAgents.get(serviceAccountFile);
  if (existing) {
    existing.retarget(endpoint);
    return existing;
  }
  const agent = new RedirectingAgent(endpoint);
  sharedAgents.set(serviceAccountFile, agent);
  return agent;
}

export class FcmProvider implements PushProvider {
  readonly name: string;
  private readonly config: FcmCredential;
  private readonly opts: FcmProviderOptions;
  private app: App | undefined;
  private messagingClient: Messaging | undefined;
  private agent: RedirectingAgent | undefined;
  private closed = false;

  constructor(name: string, config: FcmCredential, opts: FcmProviderOptions = {}) {
    this.name = name;
    this.config = config;
    this.opts = opts;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushOutcome> {
    if (this.closed) return { status: 'retry', reason: 'provider closed' };
    if (target.token === '') return { status: 'dead_token', reason: 'empty registration token' };
    const built = buildFcmMessage(target, message);
    if (!built.ok) return { status: 'rejected', reason: 'payload_too_large' };

    let messaging: Messaging;
    try {
      messaging = this.messaging();
    } catch (err) {
      return { status: 'config_error', reason: `fcm credential "${this.name}": ${redact(errMessage(err))}` };
    }
    try {
      const vendorId = await messaging.send(built.message);
      return { status: 'delivered', vendorId, httpStatus: 200 };
    } catch (err) {
      const outcome = classifyFcmError(err);
      return 'reason' in outcome ? { ...outcome, reason: redact(outcome.reason) } : outcome;
    }
  }

  private messaging(): Messaging {
    if (this.messagingClient) return this.messagingClient;
    // Parsed here first so a broken file yields our sanitized error, not a
    // JSON.parse message quoting file contents.
    const serviceAccount = loadServiceAccount(this.config);
    const endpoint = this.config.endpoint;
    const saFile = this.config.serviceAccountFile;
    if (endpoint && saFile === undefined) {
      throw new Error('endpoint redirection requires serviceAccountFile (firebase-admin ignores the agent for inline service accounts)');
    }
    const agent = endpoint && saFile !== undefined ? redirectAgentFor(saFile, endpoint) : undefined;
    try {
      const projectId = this.config.projectId ?? (serviceAccount.project_id as string | undefined);
      // A unique app name lets several registries (tests, reloads) coexist in one process.
      // Path, not object, whenever we have one: see the caveat at the top.
      const credentialSource = saFile ?? serviceAccount;
      const app = initializeApp(
        {
          credential: cert(credentialSource, agent),
          ...(agent ? { httpAgent: agent } : {}),
          ...(projectId !== undefined ? { projectId } : {}),
        },
        `tidings-fcm:${this.name}:${randomUUID()}`,
      );
      this.app = app;
      this.agent = agent;
      this.messagingClient = getMessaging(app);
    } catch (err) {
      agent?.destroy(); // drop sockets only; the shared agent stays usable
      throw err;
    }
    this.opts.log?.({ event: 'fcm app created', credential: this.name, redirected: endpoint !== undefined });
    return this.messagingClient;
  }

  async close(): Promise<void> {
    this.closed = true;
    const app = this.app;
    this.app = undefined;
    this.messagingClient = undefined;
    if (app) await deleteApp(app).catch(() => undefined);
    // Only closes pooled sockets (so the process can exit); the agent object is
    // shared with firebase-admin's memoized credential and stays usable.
    this.agent?.destroy();
    this.agent = undefined;
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Drop PEM blocks and JWT-looking strings (signed assertions, access tokens). */
function redact(text: string): string {
  return text
    .replace(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(-----END [A-Z0-9 ]+-----|$)/g, '[redacted]')
    .replace(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, '[redacted-jwt]')
    .replace(/ya29\.[A-Za-z0-9._-]+/g, '[redacted-token]');
}
