/**
 * The scaffolding of the provider-against-its-fake tests in test/push-vendors/: a push as the
 * dispatcher builds one, VendorDeps that record what the provider logs, and the hooks around one
 * fake vendor. What each test sends and checks stays in its vendor's test file, except the one
 * check every provider makes alike (refusesOtherRegistrations).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, beforeEach } from 'node:test';
import type { PushMessage, PushOutcome, PushProvider, PushTarget, PushVendor, VendorDeps, VendorStateStore } from '../../push/vendors/contract.ts';
import { closeVendorAgents } from '../../push/vendors/http.ts';
import { REGISTRATION_KINDS } from '../../push/vendors/registry.ts';

/** A chat message from alice to bob, as the dispatcher would hand it to a provider. */
export function pushMessage(over: Partial<PushMessage> = {}): PushMessage {
  return {
    id: randomUUID(), purpose: 'message', kind: 'alert', priority: 'high', title: 'Alice', body: 'hello',
    data: { sender: 'alice', receiver: 'bob', conversation: 'p:alice:bob', messageId: 'm1' }, ...over,
  };
}

export const reasonOf = (outcome: PushOutcome): string => ('reason' in outcome ? outcome.reason : '');

export type MemoryState = VendorStateStore & { map: Map<string, { value: string; expiresAt: number }> };

/** A vendor state store in memory whose entries expire, with the map open to inspection. */
export function memoryState(): MemoryState {
  const map = new Map<string, { value: string; expiresAt: number }>();
  return {
    map,
    async get(key) {
      const entry = map.get(key);
      return entry && entry.expiresAt > Date.now() ? entry.value : undefined;
    },
    async set(key, value, expiresAt) {
      map.set(key, { value, expiresAt });
    },
  };
}

/** `log` appends to `logs` (tests check that no secret or token reaches them); `now` is read on every call. */
export function recordingDeps(logs: Record<string, unknown>[], now: () => number = Date.now, state: VendorStateStore = memoryState()): VendorDeps {
  return { log: (entry) => logs.push(entry), state, now: () => now() };
}

/** What every fake vendor has: controls to reset, and what it received and refused. */
export interface RecordingFake {
  control: { reset(): void };
  received: unknown[];
  rejected: unknown[];
  /** Token-endpoint requests, on the fakes that have one. */
  tokenRequests?: unknown[];
  close(): Promise<void>;
}

export interface FakeSuite<F extends RecordingFake> {
  start(): Promise<F>;
  /** Receives the started fake (the suite's `let fake`). */
  started(fake: F): void;
  /** Also before each test, after the fake is cleared (put the clock back, zero counters). */
  beforeEach?: () => void;
  /** Providers a test created, closed after it. */
  providers?: PushProvider[];
  /** After the suite, once the fake is closed. */
  after?: () => void;
}

/**
 * The hooks around one fake vendor: started before the suite, its controls reset and its records
 * cleared before each test, and closed after the suite together with the vendor sockets the
 * providers pooled to it (otherwise a keep-alive socket holds the test process open).
 */
export function aroundFake<F extends RecordingFake>(suite: FakeSuite<F>): void {
  let fake: F | undefined;
  before(async () => {
    fake = await suite.start();
    suite.started(fake);
  });
  beforeEach(() => {
    fake!.control.reset();
    fake!.received.length = 0;
    fake!.rejected.length = 0;
    if (fake!.tokenRequests) fake!.tokenRequests.length = 0;
    suite.beforeEach?.();
  });
  if (suite.providers) {
    const providers = suite.providers;
    afterEach(async () => {
      await Promise.all(providers.splice(0).map((p) => p.close()));
    });
  }
  after(async () => {
    closeVendorAgents();
    await fake?.close();
    suite.after?.();
  });
}

export interface OtherRegistrationsCase {
  /** A real provider of the vendor, its credential pointed at the running fake. */
  provider: PushProvider;
  vendor: Pick<PushVendor, 'registrations'>;
  /** The vendor as the provider's reasons name it ('huawei', 'OPPO', 'Web Push'). */
  label: string;
  /** A target this provider delivers to; it is sent with every other registration kind instead of its own. */
  target: PushTarget;
  message: () => PushMessage;
  /** Every request the fake has seen (sends, refusals and token requests alike). */
  requests: () => number;
}

/**
 * A valid token of this vendor, sent as each registration kind another vendor declares: a
 * `config_error` naming the credential, the vendor and the kind (an operator's mistake: not
 * retried, the token kept), and not one request reaches the fake. Without the check the provider
 * would send the token to its vendor and answer `delivered`.
 */
export async function refusesOtherRegistrations(c: OtherRegistrationsCase): Promise<void> {
  const own = new Set(c.vendor.registrations.map((kind) => kind.name));
  const others = REGISTRATION_KINDS.filter((kind) => !own.has(kind));
  assert.ok(others.length > 0);
  const before = c.requests();
  for (const registration of others) {
    const outcome = await c.provider.send({ ...c.target, registration }, c.message());
    assert.deepEqual(outcome, {
      status: 'config_error',
      reason: `credential "${c.provider.name}" is ${c.label} but the target registered as ${registration}`,
    }, `a target registered as ${registration}`);
  }
  assert.equal(c.requests(), before, 'the fake received a request');
  // The same target as the vendor's own kind is sent: what was refused was the kind alone.
  assert.equal((await c.provider.send(c.target, c.message())).status, 'delivered');
}
