import type { DeliveredEvent, ServerFrameOf } from './wire.ts';
import type { TidingsError } from './errors.ts';
import type { OutboxStatus } from './outbox.ts';

type EventOf<K extends DeliveredEvent['kind']> = Extract<DeliveredEvent, { kind: K }>;
export type MessageEvent = EventOf<'message'>;
export type ReadEvent = EventOf<'read'>;
export type GroupEvent = EventOf<'group_created' | 'member_joined' | 'member_left' | 'member_role' | 'group_updated' | 'group_dissolved' | 'join_requested' | 'join_rejected'>;
export type CallInvitedEvent = EventOf<'call_invited'>;
export type CallStateEvent = EventOf<'call_state'>;

/** Connection states; `closed` is final (a new client is needed), `idle` is not. */
export type ConnectionState = 'idle' | 'connecting' | 'authenticating' | 'syncing' | 'live' | 'backoff' | 'closed';

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /**
   * Why: `connect`, `login_ok`, `sync_done`; for backoff the cause (`socket_closed`,
   * `heartbeat_timeout`, `connect_timeout`, `server_restart`, `too_many_connections`, …); for
   * idle `disconnect`; for closed `close`, `kicked`, `logged_out`, `replaced`, `auth_failed`,
   * `login_failed`.
   */
  reason: string;
  /** The WebSocket close code that caused the change, when there was one. */
  closeCode?: number;
  /** backoff: when the next attempt starts, and how many failed in a row before it. */
  retryInMs?: number;
  attempt?: number;
}

/** Every event a TidingsClient emits, with its listener's arguments. */
export interface TidingsEvents {
  /** A message (from anyone, including your own from any of your devices), once, in seq order. */
  message: [MessageEvent];
  read: [ReadEvent];
  /** `group_created`, `member_joined`, `member_left`: switch on `event.kind`. */
  group: [GroupEvent];
  call_invited: [CallInvitedEvent];
  call_state: [CallStateEvent];
  /** Every delivered event of any kind (also those above), after deduplication. */
  event: [DeliveredEvent];
  /** The session caught up with the inbox (after each sync). */
  synced: [{ headSeq: number }];
  /** Progress of one outgoing message (the promise of `send()` settles with the same result). */
  outbox: [OutboxStatus];
  kicked: [ServerFrameOf<'kicked'>];
  reconnect: [ServerFrameOf<'reconnect'>];
  state: [StateChange];
  /** Errors not tied to a request the app is awaiting (login, sync, stray server errors). */
  error: [TidingsError];
}

type Listener<A extends unknown[]> = (...args: A) => void;
type AnyListener = (...args: unknown[]) => void;

/** A minimal typed emitter (no Node `events` in the browser). */
export class Emitter<E extends { [K in keyof E]: unknown[] }> {
  readonly #listeners = new Map<keyof E, Set<AnyListener>>();

  /** Add a listener; returns a function that removes it. */
  on<K extends keyof E>(name: K, listener: Listener<E[K]>): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener as unknown as AnyListener);
    return () => this.off(name, listener);
  }

  once<K extends keyof E>(name: K, listener: Listener<E[K]>): () => void {
    const off = this.on(name, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<K extends keyof E>(name: K, listener: Listener<E[K]>): void {
    this.#listeners.get(name)?.delete(listener as unknown as AnyListener);
  }

  protected emit<K extends keyof E>(name: K, ...args: E[K]): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        // A throwing listener must not break the connection's state machine; surface it later.
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }
}
