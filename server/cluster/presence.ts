import type { Platform } from '../../protocol/index.ts';

/** One online device: which session of it, on which node. */
export interface DeviceEntry {
  userId: string;
  deviceId: string;
  platform: Platform;
  sessionId: string;
  nodeId: string;
}

export type DeviceRef = Pick<DeviceEntry, 'userId' | 'deviceId'>;

/**
 * "Which devices of user U are online, anywhere?" (ON-1): the only answer push, login and the
 * controller trust. String-keyed and asynchronous, so a shared implementation (Redis) can serve a
 * cluster; it holds identities, never sockets (those are the Hub's).
 *
 * Guarantees an implementation must give:
 * - At most one entry per (user, device): `add` replaces the device's entry and returns the one it
 *   replaced, atomically, so two logins of one device can never both stay online.
 * - `remove` deletes the entry only while it is still that session's, so a stale session ending
 *   late never takes a newer session of the same device offline.
 * - Expiry: an implementation shared by several nodes expires every entry its node has not
 *   re-asserted with `refresh` within its TTL, so the devices of a node that died go offline
 *   without it; `expired` reports them once, to one caller. The memory directory serves one node,
 *   whose entries die with its process; it never expires anything.
 * - Reads reflect every `add`/`remove` that resolved before they were issued.
 */
export interface PresenceDirectory {
  add(entry: DeviceEntry): Promise<DeviceEntry | undefined>;
  remove(entry: Pick<DeviceEntry, 'userId' | 'deviceId' | 'sessionId'>): Promise<void>;
  /** This node's live entries, re-asserted (called from the heartbeat scan). */
  refresh(entries: readonly DeviceEntry[]): Promise<void>;
  devicesOf(userId: string): Promise<DeviceEntry[]>;
  isOnline(userId: string, deviceId: string): Promise<boolean>;
  /** Of these devices, those online now, as `userId\u0000deviceId` keys. */
  onlineAmong(devices: readonly DeviceRef[]): Promise<Set<string>>;
  /** Entries whose node stopped refreshing them, each handed out once across the cluster (empty on one node). */
  expired(): Promise<DeviceEntry[]>;
  close(): Promise<void>;
}
