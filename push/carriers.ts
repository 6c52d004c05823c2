import type { PushBinding, PushJobKind } from '../storage/index.ts';
import { registrationKind } from './vendors/registry.ts';

export interface CarrierChoice {
  /** The registrations that can carry this push, best first: the first is the carrier, the rest its fallbacks. */
  carriers: PushBinding[];
  /** For the trace (OPS-2): which registration was chosen and why, and why the others were not. */
  why: string;
}

/**
 * Carrier choice (one push per event and device): among a device's registrations that can carry
 * a push of this kind and whose credential can send, the one with the highest priority wins; the
 * others are the fallbacks, in order (OEM channel first, FCM when the OEM token is dead or its
 * credential is not configured; a PushKit token for rings, the alert token for the rest).
 */
export function chooseCarriers(deviceBindings: readonly PushBinding[], kind: PushJobKind, canSend: (credential: string) => boolean): CarrierChoice {
  const ranked: Array<{ binding: PushBinding; priority: number }> = [];
  const skipped: string[] = [];
  for (const binding of deviceBindings) {
    const registered = registrationKind(binding.registration);
    if (!registered) skipped.push(`${binding.registration}: unknown registration kind`);
    else if (!registered.kind.carries(kind)) skipped.push(`${binding.registration}: does not carry ${kind}`);
    else if (!canSend(binding.credential)) skipped.push(`${binding.registration}: credential "${binding.credential}" not configured`);
    else ranked.push({ binding, priority: registered.kind.priority });
  }
  ranked.sort((a, b) => b.priority - a.priority || (a.binding.pushId < b.binding.pushId ? -1 : 1));
  const [chosen, ...rest] = ranked;
  const parts: string[] = [];
  if (chosen) {
    parts.push(`via ${chosen.binding.registration}`);
    if (rest.length > 0) parts.push(`priority ${chosen.priority} over ${rest.map((r) => `${r.binding.registration} (${r.priority})`).join(', ')}`);
  } else parts.push('no carrier');
  if (skipped.length > 0) parts.push(`skipped ${skipped.join(', ')}`);
  return { carriers: ranked.map((r) => r.binding), why: parts.join('; ') };
}

/** The carriers alone, best first (see chooseCarriers). */
export function carriersFor(deviceBindings: readonly PushBinding[], kind: PushJobKind, canSend: (credential: string) => boolean): PushBinding[] {
  return chooseCarriers(deviceBindings, kind, canSend).carriers;
}

/** A VoIP channel: a ring through it is a VoIP push. */
export function isVoipCarrier(binding: PushBinding): boolean {
  return registrationKind(binding.registration)?.kind.voip === true;
}
