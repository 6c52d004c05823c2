import type { PushBinding, PushJobKind } from '../storage/index.ts';
import { registrationKind } from './vendors/registry.ts';

/**
 * Carrier choice (one push per event and device): among a device's registrations that can carry
 * a push of this kind and whose credential can send, the one with the highest priority wins; the
 * others are the fallbacks, in order (OEM channel first, FCM when the OEM token is dead or its
 * credential is not configured; a PushKit token for rings, the alert token for the rest).
 */
export function carriersFor(deviceBindings: readonly PushBinding[], kind: PushJobKind, canSend: (credential: string) => boolean): PushBinding[] {
  const ranked: Array<{ binding: PushBinding; priority: number }> = [];
  for (const binding of deviceBindings) {
    const registered = registrationKind(binding.registration);
    if (!registered || !registered.kind.carries(kind) || !canSend(binding.credential)) continue;
    ranked.push({ binding, priority: registered.kind.priority });
  }
  return ranked.sort((a, b) => b.priority - a.priority || (a.binding.pushId < b.binding.pushId ? -1 : 1)).map((r) => r.binding);
}

/** Why the first carrier was chosen, for the trace (OPS-2). */
export function carrierReason(carriers: readonly PushBinding[]): string {
  const [chosen, ...rest] = carriers;
  if (!chosen) return 'no carrier';
  return rest.length === 0 ? `via ${chosen.registration}` : `via ${chosen.registration} (over ${rest.map((b) => b.registration).join(', ')})`;
}

/** A VoIP channel: a ring through it is a VoIP push. */
export function isVoipCarrier(binding: PushBinding): boolean {
  return registrationKind(binding.registration)?.kind.voip === true;
}
