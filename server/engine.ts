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

export interface Engines {
  nodeId: string;
  presence: PresenceDirectory;
  broker: Broker;
  controller: Controller;
}

export async function createEngines(config: Config): Promise<Engines> {
  const nodeId = config.cluster.nodeId ?? `${hostname()}-${process.pid}`;
  switch (config.cluster.engine) {
    case 'memory':
      return { nodeId, presence: new MemoryPresence(), broker: new MemoryBroker(), controller: new MemoryController() };
  }
}
