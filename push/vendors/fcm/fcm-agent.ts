// An https.Agent that sends every connection to one fixed host:port (a fake
// vendor) while leaving the HTTP layer untouched: the Host header, the SNI
// name and the certificate check all still use the real Google hostname, so
// firebase-admin and google-auth-library behave exactly as in production.

import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface RedirectTarget {
  host: string;
  port: number;
  /** PEM of the CA (or self-signed cert) the fake presents. */
  ca?: string;
}

export class RedirectingAgent extends https.Agent {
  private target: RedirectTarget;

  constructor(target: RedirectTarget) {
    super({ keepAlive: true, maxSockets: 64 });
    this.target = target;
  }

  /** Point future connections elsewhere and drop pooled sockets to the old target. */
  retarget(target: RedirectTarget): void {
    this.target = target;
    this.destroy(); // closes current sockets only; the agent stays usable
  }

  // Returning the socket synchronously is the documented contract; the Agent
  // wires up error handling itself, so the callback is not needed.
  override createConnection(options: https.RequestOptions): Duplex {
    const originalHost = (options as { servername?: string }).servername ?? options.hostname ?? options.host ?? undefined;
    return tls.connect({
      host: this.target.host,
      port: this.target.port,
      ...(this.target.ca !== undefined ? { ca: this.target.ca } : {}),
      // Verify the fake's certificate against the *Google* name the library asked for.
      servername: originalHost ?? this.target.host,
      ALPNProtocols: ['http/1.1'],
    });
  }
}
