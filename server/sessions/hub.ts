import type { Session } from './session.ts';

/**
 * This node's authenticated sessions (Centrifuge's Hub): the sockets live delivery writes to.
 * Local and synchronous; "is the device online anywhere" is the presence directory's question.
 */
export class Hub {
  readonly #byUser = new Map<string, Session[]>();
  readonly #all = new Set<Session>();

  /** Returns true when this is the user's first session on this node. */
  add(session: Session): boolean {
    this.#all.add(session);
    const list = this.#byUser.get(session.userId);
    if (list) {
      list.push(session);
      return false;
    }
    this.#byUser.set(session.userId, [session]);
    return true;
  }

  /** Returns true when it was the user's last session on this node. */
  remove(session: Session): boolean {
    if (!this.#all.delete(session)) return false;
    const rest = (this.#byUser.get(session.userId) ?? []).filter((s) => s !== session);
    if (rest.length > 0) {
      this.#byUser.set(session.userId, rest);
      return false;
    }
    this.#byUser.delete(session.userId);
    return true;
  }

  sessionsOf(userId: string): readonly Session[] {
    return this.#byUser.get(userId) ?? [];
  }

  bySessionId(userId: string, sessionId: string): Session | undefined {
    return this.#byUser.get(userId)?.find((s) => s.sessionId === sessionId);
  }

  sessionOf(userId: string, deviceId: string): Session | undefined {
    return this.#byUser.get(userId)?.find((s) => s.identity?.deviceId === deviceId);
  }

  size(): number {
    return this.#all.size;
  }

  all(): IterableIterator<Session> {
    return this.#all.values();
  }
}
