import type { DeviceEntry, DeviceRef, PresenceDirectory } from '../presence.ts';

const key = (userId: string, deviceId: string) => `${userId}\u0000${deviceId}`;

/** One node's presence: a map. Its entries die with the process, so nothing expires. */
export class MemoryPresence implements PresenceDirectory {
  readonly #byUser = new Map<string, Map<string, DeviceEntry>>();

  async add(entry: DeviceEntry): Promise<DeviceEntry | undefined> {
    let devices = this.#byUser.get(entry.userId);
    if (!devices) {
      devices = new Map();
      this.#byUser.set(entry.userId, devices);
    }
    const previous = devices.get(entry.deviceId);
    devices.set(entry.deviceId, { ...entry });
    return previous;
  }

  async remove(entry: Pick<DeviceEntry, 'userId' | 'deviceId' | 'sessionId'>): Promise<void> {
    const devices = this.#byUser.get(entry.userId);
    if (devices?.get(entry.deviceId)?.sessionId !== entry.sessionId) return;
    devices.delete(entry.deviceId);
    if (devices.size === 0) this.#byUser.delete(entry.userId);
  }

  async refresh(): Promise<void> {}

  async devicesOf(userId: string): Promise<DeviceEntry[]> {
    return [...(this.#byUser.get(userId)?.values() ?? [])];
  }

  async isOnline(userId: string, deviceId: string): Promise<boolean> {
    return this.#byUser.get(userId)?.has(deviceId) ?? false;
  }

  async onlineAmong(devices: readonly DeviceRef[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const { userId, deviceId } of devices) if (this.#byUser.get(userId)?.has(deviceId)) out.add(key(userId, deviceId));
    return out;
  }

  async expired(): Promise<DeviceEntry[]> {
    return [];
  }

  async close(): Promise<void> {}
}
