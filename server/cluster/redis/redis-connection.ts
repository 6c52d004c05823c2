import { Redis } from 'ioredis';

/** Key and channel names, all under one prefix so several clusters can share a Redis. */
export interface RedisNames {
  prefix: string;
}

export interface RedisOptions {
  url: string;
  /** Key prefix (default `tidings:`). */
  prefix: string;
  /** Logs connection trouble; Redis being down is loud, never silent. */
  onError(error: Error): void;
}

/**
 * A client for commands and one for subscriptions (a subscribed connection takes no commands).
 * Commands issued while Redis is unreachable wait briefly and then fail, so callers answer with a
 * retryable error instead of hanging; ioredis reconnects and re-subscribes by itself.
 */
export function redisClients(options: RedisOptions): { commands: Redis; subscriber: Redis; close(): Promise<void> } {
  const make = () => {
    const client = new Redis(options.url, { maxRetriesPerRequest: 2, enableAutoPipelining: true, retryStrategy: (times) => Math.min(1000, 50 * times) });
    client.on('error', (error: Error) => options.onError(error));
    return client;
  };
  const commands = make();
  const subscriber = make();
  return {
    commands, subscriber,
    async close() {
      await Promise.all([commands, subscriber].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
