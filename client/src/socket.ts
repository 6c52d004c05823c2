/**
 * The part of the WebSocket API the client uses. The browser's `WebSocket` and the `ws` package
 * both have it, so a Node app injects `ws` (`new TidingsClient({ WebSocket: WsCtor, … })`) and a
 * browser app passes nothing.
 */
export interface WebSocketLike {
  readonly readyState: number;
  // `any`: the browser and `ws` type their event objects differently; only `data`, `code` and
  // `reason` are read, and they are checked at run time.
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the TCP connection at once, without a closing handshake. */
  terminate?: () => void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** readyState of an open socket, the same in every implementation. */
export const OPEN = 1;

export function resolveWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  if (given) return given;
  const native = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!native) {
    throw new TypeError('No global WebSocket: pass one, e.g. `import WebSocket from \'ws\'` and `new TidingsClient({ WebSocket, … })`.');
  }
  return native;
}
