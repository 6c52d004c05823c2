import type { AppendResult } from '../../../storage/index.ts';
import type { Broker } from '../broker.ts';

/** One node's broker: publications go straight (synchronously) to this node's handler. */
export class MemoryBroker implements Broker {
  readonly atMostOnce = false;
  readonly #handlers: Array<(committed: readonly AppendResult[], origin: 'local' | 'remote') => void> = [];

  publish(committed: readonly AppendResult[]): void {
    for (const handler of this.#handlers) handler(committed, 'local');
  }

  onPublication(handler: (committed: readonly AppendResult[], origin: 'local' | 'remote') => void): void {
    this.#handlers.push(handler);
  }

  /** There is no other node to tell. */
  signal(): void {}
  onSignal(): void {}
  onResume(): void {}

  subscribe(): void {}
  unsubscribe(): void {}
  async close(): Promise<void> {}
}
