import type { Redis } from 'ioredis';
import type { AppendResult, StoredEvent } from '../../../storage/index.ts';
import type { Broker } from '../broker.ts';

type Handler = (committed: readonly AppendResult[], origin: 'local' | 'remote') => void;
interface Wire {
  from: string;
  committed: Array<{ event: StoredEvent; seqs: Array<[string, number]>; duplicate: boolean }>;
}

/**
 * Committed batches over Redis pub/sub. Every node publishes each batch once, to one channel all
 * nodes subscribe to, and each delivers what concerns its own hub (one PUBLISH per batch, every
 * node reads every batch: right for a handful of nodes; many more would shard the channel by user).
 * Pub/sub is at most once: a lost batch is repaired by delivery's gap check and heartbeat check.
 */
export class RedisBroker implements Broker {
  readonly atMostOnce = true;
  readonly #commands: Redis;
  readonly #nodeId: string;
  readonly #events: string;
  readonly #signals: string;
  readonly #handlers: Handler[] = [];
  readonly #signalHandlers: Array<(topic: string, payload: string) => void> = [];
  readonly #resumeHandlers: Array<() => void> = [];
  readonly #onError: (error: unknown) => void;
  /** For tests: the share of incoming batches dropped on purpose (a lossy network). */
  dropIncoming = 0;

  private constructor(commands: Redis, nodeId: string, prefix: string, onError: (error: unknown) => void) {
    this.#commands = commands;
    this.#nodeId = nodeId;
    this.#events = `${prefix}events`;
    this.#signals = `${prefix}signals`;
    this.#onError = onError;
  }

  static async start(commands: Redis, subscriber: Redis, options: { nodeId: string; prefix: string; onError(error: unknown): void }): Promise<RedisBroker> {
    const broker = new RedisBroker(commands, options.nodeId, options.prefix, options.onError);
    subscriber.on('message', (channel: string, text: string) => broker.#receive(channel, text));
    await subscriber.subscribe(broker.#events, broker.#signals);
    // ioredis re-subscribes by itself after a reconnect; what was published meanwhile is gone.
    let connected = true;
    subscriber.on('close', () => { connected = false; });
    subscriber.on('ready', () => {
      if (connected) return;
      connected = true;
      for (const handler of broker.#resumeHandlers) handler();
    });
    return broker;
  }

  #receive(channel: string, text: string): void {
    try {
      if (channel === this.#signals) {
        const { from, topic, payload } = JSON.parse(text) as { from: string; topic: string; payload: string };
        if (from !== this.#nodeId) for (const handler of this.#signalHandlers) handler(topic, payload);
        return;
      }
      if (channel !== this.#events) return;
      const wire = JSON.parse(text) as Wire;
      if (wire.from === this.#nodeId) return;
      if (this.dropIncoming > 0 && Math.random() < this.dropIncoming) return;
      const committed = wire.committed.map((c) => ({ event: c.event, seqs: new Map(c.seqs), duplicate: c.duplicate }));
      for (const handler of this.#handlers) handler(committed, 'remote');
    } catch (error) {
      this.#onError(error);
    }
  }

  publish(committed: readonly AppendResult[]): void {
    for (const handler of this.#handlers) handler(committed, 'local');
    const wire: Wire = { from: this.#nodeId, committed: committed.map((r) => ({ event: r.event, seqs: [...r.seqs], duplicate: r.duplicate })) };
    this.#commands.publish(this.#events, JSON.stringify(wire)).catch((error: unknown) => this.#onError(error));
  }

  onPublication(handler: Handler): void {
    this.#handlers.push(handler);
  }

  signal(topic: string, payload: string): void {
    this.#commands.publish(this.#signals, JSON.stringify({ from: this.#nodeId, topic, payload })).catch((error: unknown) => this.#onError(error));
  }

  onSignal(handler: (topic: string, payload: string) => void): void {
    this.#signalHandlers.push(handler);
  }

  onResume(handler: () => void): void {
    this.#resumeHandlers.push(handler);
  }

  subscribe(): void {}
  unsubscribe(): void {}
  async close(): Promise<void> {}
}
