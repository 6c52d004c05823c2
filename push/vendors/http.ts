/**
 * The HTTPS client of the vendors that have no maintained Node package (the Android OEM push
 * APIs): one keep-alive agent per origin and CA, a timeout per request, and the answer as text.
 * Network failures resolve as `{ status: 0 }` with the error's message, so a provider maps every
 * failure to a PushOutcome instead of throwing.
 */
import http from 'node:http';
import https from 'node:https';

export interface VendorRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** PEM of a CA to trust besides the system's (a local fake vendor). */
  ca?: string;
  timeoutMs?: number;
}

export interface VendorResponse {
  /** HTTP status; 0 when no answer arrived (connection refused, reset, timeout). */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Set when status is 0. */
  error?: string;
}

const agents = new Map<string, http.Agent>();

function agentFor(url: URL, ca: string | undefined): http.Agent {
  const key = `${url.protocol}//${url.host}\u0000${ca ?? ''}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = url.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, maxSockets: 64, ...(ca !== undefined ? { ca } : {}) })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
    agents.set(key, agent);
  }
  return agent;
}

export function vendorRequest(request: VendorRequest): Promise<VendorResponse> {
  const url = new URL(request.url);
  const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
  const headers: Record<string, string> = { ...(request.headers ?? {}) };
  if (body) headers['content-length'] = String(body.length);
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve) => {
    let settled = false;
    const done = (response: VendorResponse) => {
      if (settled) return;
      settled = true;
      resolve(response);
    };
    const req = send(url, { method: request.method ?? 'POST', headers, agent: agentFor(url, request.ca) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => done({ status: 0, headers: {}, text: '', error: error.message }));
    });
    req.setTimeout(request.timeoutMs ?? 10_000, () => req.destroy(new Error(`timed out after ${request.timeoutMs ?? 10_000} ms`)));
    req.on('error', (error) => done({ status: 0, headers: {}, text: '', error: error.message }));
    req.end(body);
  });
}

/** `Retry-After` in milliseconds (seconds or an HTTP date), if the answer carries one. */
export function retryAfterMs(headers: VendorResponse['headers'], now = Date.now()): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** A vendor's answer text as a JSON object, or undefined (not JSON, or not an object). */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Close pooled sockets (shutdown, tests). */
export function closeVendorAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}
