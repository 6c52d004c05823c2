import type { Platform } from '../protocol/index.ts';
import type { OfflineReason } from './sessions/session.ts';

export interface DeviceOnline {
  userId: string;
  deviceId: string;
  platform: Platform;
  sessionId: string;
}

export interface DeviceOffline extends DeviceOnline {
  reason: OfflineReason;
  /** Newest seq the device acknowledged; everything after it is what it may have missed (MSG-4). */
  ackedSeq: number;
  deliveredSeq: number;
  at: number;
}

export interface DomainEventMap {
  device_online: DeviceOnline;
  device_offline: DeviceOffline;
  /** A device ended its login: logout, or a kick by the single-device policy. */
  device_logged_out: { userId: string; deviceId: string; reason: 'logout' | 'kicked' };
}

type Listener<E> = (event: E) => void;

/**
 * In-process domain events. Features subscribe here instead of importing each other (the push
 * module hears "device offline" without knowing about sockets). Each listener runs on its own:
 * one that throws is reported (logged and counted) and neither the emitter nor the other
 * listeners see it.
 */
export class DomainEvents {
  readonly #listeners = new Map<keyof DomainEventMap, Array<{ name: string; listener: Listener<never> }>>();
  readonly #onError: (listener: string, error: unknown) => void;

  constructor(onError: (listener: string, error: unknown) => void) {
    this.#onError = onError;
  }

  /** `name` labels the listener in logs and in the listener-error metric. */
  on<K extends keyof DomainEventMap>(event: K, name: string, listener: Listener<DomainEventMap[K]>): void {
    const list = this.#listeners.get(event) ?? [];
    list.push({ name, listener: listener as Listener<never> });
    this.#listeners.set(event, list);
  }

  emit<K extends keyof DomainEventMap>(event: K, payload: DomainEventMap[K]): void {
    for (const { name, listener } of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<DomainEventMap[K]>)(payload);
      } catch (error) {
        try {
          this.#onError(`${event}:${name}`, error);
        } catch {
          // Reporting must not break the emitter either.
        }
      }
    }
  }
}
