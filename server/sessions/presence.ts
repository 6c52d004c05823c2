import type { Session } from './session.ts';

/**
 * "Where is user U connected?" In-memory for one node; a Redis-backed implementation would
 * publish the same facts for a cluster. Callers never reach into the maps directly.
 */
export interface PresenceDirectory {
  add(session: Session): void;
  remove(session: Session): void;
  sessionsOf(userId: string): readonly Session[];
  sessionOf(userId: string, deviceId: string): Session | undefined;
  isDeviceOnline(userId: string, deviceId: string): boolean;
  countFor(userId: string): number;
  size(): number;
  all(): IterableIterator<Session>;
}

export class InMemoryPresence implements PresenceDirectory {
  readonly #byUser = new Map<string, Session[]>();
  readonly #all = new Set<Session>();

  add(session: Session): void {
    const list = this.#byUser.get(session.userId);
    if (list) list.push(session);
    else this.#byUser.set(session.userId, [session]);
    this.#all.add(session);
  }

  remove(session: Session): void {
    if (!this.#all.delete(session)) return;
    const list = this.#byUser.get(session.userId);
    if (!list) return;
    const rest = list.filter((s) => s !== session);
    if (rest.length === 0) this.#byUser.delete(session.userId);
    else this.#byUser.set(session.userId, rest);
  }

  sessionsOf(userId: string): readonly Session[] {
    return this.#byUser.get(userId) ?? [];
  }

  sessionOf(userId: string, deviceId: string): Session | undefined {
    return this.#byUser.get(userId)?.find((s) => s.identity?.deviceId === deviceId);
  }

  isDeviceOnline(userId: string, deviceId: string): boolean {
    return this.sessionOf(userId, deviceId) !== undefined;
  }

  countFor(userId: string): number {
    return this.#byUser.get(userId)?.length ?? 0;
  }

  size(): number {
    return this.#all.size;
  }

  all(): IterableIterator<Session> {
    return this.#all.values();
  }
}
