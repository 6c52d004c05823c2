import type { AppendResult } from '../../../storage/index.ts';
import type { Broker } from '../broker.ts';

/** One node's broker: publications go straight (synchronously) to this node's handler. */
export class MemoryBroker implements Broker {
  readonly #handlers: Array<(committed: readonly AppendResult[]) => void> = [];

  publish(committed: readonly AppendResult[]): void {
    for (const handler of this.#handlers) handler(committed);
  }

  onPublication(handler: (committed: readonly AppendResult[]) => void): void {
    this.#handlers.push(handler);
  }

  subscribe(): void {}
  unsubscribe(): void {}
  async close(): Promise<void> {}
}
