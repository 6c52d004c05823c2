import { EventEmitter } from 'node:events';
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
  device_online: [DeviceOnline];
  device_offline: [DeviceOffline];
  /** A device ended its login (logout or the same device logging in as someone else). */
  device_logged_out: [{ userId: string; deviceId: string; reason: 'logout' | 'user_switch' | 'kicked' }];
}

/**
 * In-process domain events. Features subscribe here instead of importing each other
 * (the push module hears "device offline" without knowing about sockets).
 */
export class DomainEvents extends EventEmitter<DomainEventMap> {}
