import type { TransportFactory } from './transport.ts';
import { createWsTransport } from './ws-transport.ts';

export { TransportUnavailableError } from './transport.ts';

/**
 * Transports by config name. uWebSockets.js is optional and native, so it is imported only
 * when selected; a missing or unloadable build fails here with instructions, not at start-up of
 * every server.
 */
export async function loadTransportFactory(name: 'ws' | 'uws'): Promise<TransportFactory> {
  if (name === 'ws') return createWsTransport;
  const module = await import('./uws-transport.ts');
  return module.loadUwsTransport();
}
