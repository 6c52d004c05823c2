/**
 * The registration kind of a vendor whose device token is one string (the Android OEM channels):
 * a bounded printable token stored as given, no APNs fields, a priority above FCM's.
 */
import type { TSchema } from '@sinclair/typebox';
import { RegistrationError, type PushPurpose, type RegistrationKind } from './contract.ts';

export interface StringTokenRegistration {
  name: string;
  /** How the vendor calls its token, for the error text ("a huawei token", "a vivo regId"). */
  tokenName: string;
  tokenSchema: TSchema;
  priority: number;
  /** Default: every purpose. */
  carries?: (purpose: PushPurpose) => boolean;
}

export function stringTokenRegistration(spec: StringTokenRegistration): RegistrationKind {
  return {
    name: spec.name,
    tokenSchema: spec.tokenSchema,
    storedToken(token: unknown): string {
      if (typeof token !== 'string') throw new RegistrationError(`${spec.tokenName} is a string`);
      return token;
    },
    priority: spec.priority,
    carries: spec.carries ?? (() => true),
    options(fields) {
      if (fields.environment !== undefined) throw new RegistrationError(`environment is an APNs field; ${spec.name} registrations take none`);
      if (fields.topic !== undefined) throw new RegistrationError(`topic is an APNs field; ${spec.name} registrations take none`);
      return {};
    },
  };
}

/** The priority of the OEM channels: above FCM (10) and Web Push (40) on the phones that have them. */
export const OEM_PRIORITY = 50;

/**
 * OPPO and vivo show notifications only; they have no silent (data-only) push. The purposes other
 * vendors send as background pushes (a badge update, "the call is over") are therefore not theirs
 * to carry: carrier choice gives them to the device's next carrier (FCM) instead.
 */
export const carriesVisibleOnly = (purpose: PushPurpose): boolean => purpose !== 'badge_update' && purpose !== 'call_over';
