// The HTTP scaffolding the fake vendors share: the body read, an answer sent late on purpose (a
// slow vendor) but never to a client that has gone, and a loopback server whose close() does not
// wait for keep-alive sockets. What a fake checks and answers is the vendor model in its own file.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { listenOnLoopback } from './tls.ts';

export const JSON_UTF8 = 'application/json;charset=UTF-8';

/** What answerAfter() needs of a response: HTTP/1 and HTTP/2 compatibility responses both have it. */
export interface WritableAnswer {
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(text: string): unknown;
}

/** Answer after `delayMs` (0: at once), unless the client is gone by then. */
export function answerAfter(res: WritableAnswer, delayMs: number, status: number, headers: Record<string, string>, text: string): void {
  const send = (): void => {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, headers);
    res.end(text);
  };
  if (delayMs > 0) setTimeout(send, delayMs);
  else send();
}

/** A JSON body, or a bare text one (an error page of a gateway); `headers` may override the content type. */
export function replyAfter(res: WritableAnswer, delayMs: number, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  answerAfter(res, delayMs, status, { 'content-type': typeof body === 'string' ? 'text/plain' : JSON_UTF8, ...headers }, text);
}

/** `Retry-After` for an answer a test asked to carry one. */
export function retryAfterHeader(seconds: number | undefined): Record<string, string> {
  return seconds !== undefined ? { 'retry-after': String(seconds) } : {};
}

/**
 * The request body as text, keeping at most `maxBytes` of it. A request that breaks off midway
 * is dropped unanswered (`onBroken: 'drop'`) or answered as if its body were empty (`'empty'`),
 * as each fake has always done.
 */
export function readBody(req: IncomingMessage, options: { maxBytes?: number; onBroken: 'drop' | 'empty' }): Promise<string> {
  const maxBytes = options.maxBytes ?? Infinity;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= maxBytes) chunks.push(c);
    });
    req.on('error', () => {
      if (options.onBroken === 'empty') resolve('');
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export interface LoopbackServer {
  port: number;
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** Ends every open connection, then stops listening: a provider's keep-alive agent cannot hold the fake open. */
  close(): Promise<void>;
}

/** Listen on 127.0.0.1 (a given or free port) and track the server's TLS connections for close(). */
export async function serveOnLoopback(server: TlsServer, port?: number): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  const bound = await listenOnLoopback(server, port);
  return {
    port: bound,
    url: `https://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
