/**
 * The storage facade: open a Store for a configured dialect, and the contract types. Callers see
 * interfaces only (storage/contract.ts); dialect folders are never imported from outside storage/.
 */
import type { Store } from './contract.ts';
import { DIALECTS, type StorageConfig } from './dialects.ts';
import type { StoreOptions } from './store-options.ts';

export type { StorageConfig } from './dialects.ts';
export type { StoreOptions } from './store-options.ts';
export type { Database } from './sql/schema.ts';
export * from './contract.ts';
export * from './push-store.ts';
export * from './settings-store.ts';
export { isCallOver, missedBy, nextCallState } from './domain/call-state.ts';

/** Open the database, run migrations, load the planner's state. */
export function openStore(config: StorageConfig, options: StoreOptions): Promise<Store> {
  const open = DIALECTS[config.dialect] as (config: StorageConfig, options: StoreOptions) => Promise<Store>;
  return open(config, options);
}
