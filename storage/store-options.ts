import type { EventLogOptions } from './engine/event-log.ts';

/** What every dialect's store is opened with, besides its own connection settings. */
export interface StoreOptions {
  maxGroupMembers: number;
  /** Most drafts committed in one transaction. */
  maxBatch: number;
  /** Refuse new appends `overloaded` while the oldest queued one has waited longer (0 or absent: no bound). */
  maxAppendWaitMs?: number;
  cursorFlushMs?: number;
  /** `thread` (a worker thread writes appends on its own connection) or `inline` (the caller's thread). */
  writer?: 'thread' | 'inline';
  /** A commit listener threw; the append still completes. Defaults to printing it on stderr. */
  onListenerError?(listener: string, error: unknown): void;
}

/** The engine's options for a dialect that writes `writesInFlight` batches at once. */
export function engineOptions(options: StoreOptions, writesInFlight: number): EventLogOptions {
  return {
    maxGroupMembers: options.maxGroupMembers,
    maxBatch: options.maxBatch,
    maxAppendWaitMs: options.maxAppendWaitMs ?? 0,
    cursorFlushMs: options.cursorFlushMs ?? 200,
    writesInFlight,
    onListenerError: options.onListenerError ?? ((listener, error) => process.stderr.write(`commit listener ${listener} failed: ${String(error)}\n`)),
  };
}
