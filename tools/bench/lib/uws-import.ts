/** Load uWebSockets.js the way server/transports/uws-transport.ts does (ESM default export). */
import type * as Uws from 'uWebSockets.js';

export type UwsModule = typeof Uws;

export async function loadUws(): Promise<UwsModule> {
  const module = (await import('uWebSockets.js')) as unknown as { default?: UwsModule } & UwsModule;
  const uws = module.default ?? module;
  if (typeof uws.App !== 'function') throw new Error('uWebSockets.js has no App export');
  return uws;
}

/** True when uWebSockets.js loads on this machine (it is an optional dependency). */
export async function uwsAvailable(): Promise<boolean> {
  try {
    await loadUws();
    return true;
  } catch {
    return false;
  }
}
