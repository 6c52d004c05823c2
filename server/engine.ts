/**
 * The one place that names the concrete cluster engines (as Centrifugo's engine.go does): the
 * presence directory, the broker and the controller. A new engine is a folder under cluster/
 * plus one case here; see docs/ARCHITECTURE.md for what it must provide.
 */
import { hostname } from 'node:os';
import type { Broker } from './cluster/broker.ts';
import type { Controller } from './cluster/controller.ts';
import type { PresenceDirectory } from './cluster/presence.ts';
import { MemoryBroker } from './cluster/memory/memory-broker.ts';
import { MemoryController } from './cluster/memory/memory-controller.ts';
import { MemoryPresence } from './cluster/memory/memory-presence.ts';
import type { Config } from './config/schema.ts';
import { RedisBroker } from './cluster/redis/redis-broker.ts';
import { redisClients } from './cluster/redis/redis-connection.ts';
import { RedisController } from './cluster/redis/redis-controller.ts';
import { RedisPresence } from './cluster/redis/redis-presence.ts';

export interface Engines {
  nodeId: string;
  presence: PresenceDirectory;
  broker: Broker;
  controller: Controller;
  /** Releases what the engines hold (connections), after each part closed. */
  closeEngines(): Promise<void>;
}

export async function createEngines(config: Config, onError: (error: unknown) => void): Promise<Engines> {
  const nodeId = config.cluster.nodeId ?? `${hostname()}-${process.pid}`;
  switch (config.cluster.engine) {
    case 'memory':
      return { nodeId, presence: new MemoryPresence(), broker: new MemoryBroker(), controller: new MemoryController(), closeEngines: async () => undefined };
    case 'redis': {
      const { url, prefix } = config.cluster.redis;
      const redis = redisClients({ url, prefix, onError });
      const options = { nodeId, prefix, onError };
      try {
        const broker = await RedisBroker.start(redis.commands, redis.subscriber, options);
        broker.dropIncoming = config.cluster.chaosDropRate;
        return {
          nodeId, broker,
          presence: new RedisPresence(redis.commands, { prefix, ttlMs: config.cluster.presenceTtlMs }),
          controller: await RedisController.start(redis.commands, redis.subscriber, options),
          closeEngines: () => redis.close(),
        };
      } catch (error) {
        await redis.close();
        throw error;
      }
    }
  }
}
