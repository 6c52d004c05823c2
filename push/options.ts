import type { Logger } from 'pino';
import type { DeviceCursors, EventLog, PushStore, ReadModels, SettingsStore } from '../storage/index.ts';
import type { PayloadDefaults } from './decide.ts';
import type { ProviderRegistry } from './vendors/providers.ts';

export interface PushServiceOptions {
  /** Pushes in flight to vendors at once. */
  concurrency: number;
  /** Tries before a job is dead-lettered. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Most pushes replayed when a device goes offline (the newest un-acked events that push). */
  replayLimit: number;
  /** How long a claimed job is this dispatcher's; past it (the process died mid-send) another may claim it. */
  claimLeaseMs: number;
  /** How often the dispatcher looks for due retries even when nothing woke it. */
  pollMs: number;
  /** After a start, devices that do not reconnect within this are treated as offline (crash recovery). */
  startupGraceMs: number;
  traceRetentionMs: number;
  /** How often expired trace rows are deleted. */
  tracePruneEveryMs: number;
  /** Message pushes wait this long so that several for one device and conversation collapse (PAY-4). */
  collapseWindowMs: number;
  /** Badge updates wait this long, so a burst of reads on another device is one update per device. */
  badgeUpdateWindowMs: number;
  /** How long trigger work that failed (database or presence unreachable) is retried before it is given up. */
  triggerRetryMs: number;
  /** Pieces of trigger work running at once across lanes (each device's work stays in order). */
  triggerConcurrency: number;
  payload: PayloadDefaults;
}

/** What the dispatcher reports for each job it ends or reschedules (Prometheus in the server). */
export interface PushObserver {
  /**
   * `outcome` is the job's trace decision:reason; `waitedMs` runs from the moment the job was due
   * to the end of the dispatcher's checks (outbox lag); `vendorMs` is the vendor call, when made.
   */
  jobDone(outcome: string, provider: string | undefined, waitedMs: number, vendorMs: number | undefined): void;
  /** Trigger work failed (`gaveUp`: for good, its pushes are not made). */
  triggerFailed?(work: string, gaveUp: boolean): void;
  /**
   * A piece of trigger work finished: `waitedMs` from being queued to starting (its lane's earlier
   * work, a free slot), `ranMs` its own run. Their sum is how late its pushes were queued.
   */
  triggerDone?(work: string, waitedMs: number, ranMs: number): void;
}

/**
 * "Is this device online anywhere?" as the push module needs it (ON-1, ON-3). The server's
 * presence directory implements it; on one node or a cluster, push never sees a socket.
 */
export interface DevicePresence {
  isOnline(userId: string, deviceId: string): Promise<boolean>;
  /** Of these devices, the ones online now, as `userId\u0000deviceId` keys. */
  onlineAmong(devices: ReadonlyArray<{ userId: string; deviceId: string }>): Promise<Set<string>>;
}

/** What the push module needs from the rest of the server, as plain functions and interfaces. */
export interface PushDeps {
  log: EventLog;
  cursors: Pick<DeviceCursors, 'ackedSeq'>;
  readModels: Pick<ReadModels, 'callsByIds' | 'totalUnread' | 'groupName'>;
  settings: Pick<SettingsStore, 'get'>;
  store: PushStore;
  providers: ProviderRegistry;
  presence: DevicePresence;
  logger: Logger;
  observer?: PushObserver;
}
