/**
 * The scaffolding of the provider-against-its-fake tests in test/push-vendors/: a push as the
 * dispatcher builds one, VendorDeps that record what the provider logs, and the hooks around one
 * fake vendor. What each test sends and checks stays in its vendor's test file.
 */
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, beforeEach } from 'node:test';
import type { PushMessage, PushOutcome, PushProvider, VendorDeps, VendorStateStore } from '../../push/vendors/contract.ts';
import { closeVendorAgents } from '../../push/vendors/http.ts';

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
