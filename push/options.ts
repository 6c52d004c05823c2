import type { Logger } from 'pino';
import type { EventLog, PushStore, ReadModels, SettingsStore } from '../storage/index.ts';
import type { PayloadDefaults } from './decide.ts';
import type { ProviderRegistry } from './providers/types.ts';

export interface PushOptions {
  /** Pushes in flight to vendors at once. */
  concurrency: number;
  /** Tries before a job is dead-lettered. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Most un-acked events replayed as pushes when a device goes offline (newest kept). */
  replayLimit: number;
  /** How often the dispatcher looks for due retries even when nothing woke it. */
  pollMs: number;
  /** After a start, devices that do not reconnect within this are treated as offline (crash recovery). */
  startupGraceMs: number;
  traceRetentionMs: number;
  /** Message pushes wait this long so that several for one device and conversation collapse (PAY-4). */
  collapseWindowMs: number;
  payload: PayloadDefaults;
}

/** What the dispatcher reports for each job it ends or reschedules (Prometheus in the server). */
export interface PushObserver {
  /**
   * `outcome` is the job's trace decision:reason; `waitedMs` runs from the moment the job was due
   * to the end of the dispatcher's checks (outbox lag); `vendorMs` is the vendor call, when made.
   */
  jobDone(outcome: string, provider: string | undefined, waitedMs: number, vendorMs: number | undefined): void;
}

/** What the push module needs from the rest of the server, as plain functions and interfaces. */
export interface PushDeps {
  log: EventLog;
  readModels: Pick<ReadModels, 'ackedSeq' | 'callsByIds' | 'totalUnread' | 'groupName'>;
  settings: Pick<SettingsStore, 'get'>;
  store: PushStore;
  providers: ProviderRegistry;
  isDeviceOnline(userId: string, deviceId: string): boolean;
  logger: Logger;
  observer?: PushObserver;
}
