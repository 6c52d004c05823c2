/**
 * The push vendors, one line each: the only list that names them. Everything else (registration,
 * carrier choice, credential validation, the sandbox, outcome handling) asks this registry.
 */
import type { PushVendor, RegistrationKind } from './contract.ts';
import { apnsVendor } from './apns/index.ts';
import { fcmVendor } from './fcm/index.ts';
import { honorVendor } from './honor/index.ts';
import { huaweiVendor } from './huawei/index.ts';
import { oppoVendor } from './oppo/index.ts';
import { vivoVendor } from './vivo/index.ts';
import { webPushVendor } from './webpush/index.ts';
import { xiaomiVendor } from './xiaomi/index.ts';

export const VENDORS: readonly PushVendor<never>[] = [
  apnsVendor as PushVendor<never>,
  fcmVendor as PushVendor<never>,
  huaweiVendor as PushVendor<never>,
  honorVendor as PushVendor<never>,
  xiaomiVendor as PushVendor<never>,
  oppoVendor as PushVendor<never>,
  vivoVendor as PushVendor<never>,
  webPushVendor as PushVendor<never>,
];

const byType = new Map(VENDORS.map((v) => [v.type, v]));
const byRegistration = new Map<string, { vendor: PushVendor<never>; kind: RegistrationKind }>();
for (const vendor of VENDORS) {
  for (const kind of vendor.registrations) {
    if (byRegistration.has(kind.name)) throw new Error(`push registration kind "${kind.name}" is declared twice`);
    byRegistration.set(kind.name, { vendor, kind });
  }
}

export function vendorOfType(type: string): PushVendor<never> | undefined {
  return byType.get(type);
}

/** The vendor and registration kind a device names in push_register (`provider`). */
export function registrationKind(name: string): { vendor: PushVendor<never>; kind: RegistrationKind } | undefined {
  return byRegistration.get(name);
}

export const VENDOR_TYPES: readonly string[] = VENDORS.map((v) => v.type);
export const REGISTRATION_KINDS: readonly string[] = [...byRegistration.keys()];
