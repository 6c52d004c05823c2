/**
 * The cluster seams (server/cluster/): one body per guarantee, run against every engine, as the
 * interfaces state them. The Redis engine runs against a real redis-server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AppendResult } from '../../storage/index.ts';
import type { Broker } from '../../server/cluster/broker.ts';
import type { Controller, DisconnectCommand } from '../../server/cluster/controller.ts';
import type { DeviceEntry, PresenceDirectory } from '../../server/cluster/presence.ts';
import { MemoryBroker } from '../../server/cluster/memory/memory-broker.ts';
import { MemoryController } from '../../server/cluster/memory/memory-controller.ts';
import { MemoryPresence } from '../../server/cluster/memory/memory-presence.ts';
import { RedisBroker } from '../../server/cluster/redis/redis-broker.ts';
import { redisClients } from '../../server/cluster/redis/redis-connection.ts';
import { RedisController } from '../../server/cluster/redis/redis-controller.ts';
import { RedisPresence } from '../../server/cluster/redis/redis-presence.ts';
import { eventually, sleep } from '../helpers/server.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

interface Node {
  presence: PresenceDirectory;
  broker: Broker;
  controller: Controller;
}

interface Engine {
  name: string;
  shared: boolean;
  /** A node of one cluster: nodes made by one engine instance share its state. */
  node(nodeId: string, ttlMs?: number): Promise<Node>;
  close(): Promise<void>;
}

let redis: TestRedis;
before(async () => { redis = await startTestRedis(); });
after(async () => { await redis.stop(); });

function memoryEngine(): Engine {
  const presence = new MemoryPresence();
  const broker = new MemoryBroker();
  const controller = new MemoryController();
  return { name: 'memory', shared: false, node: async () => ({ presence, broker, controller }), close: async () => undefined };
}

let clusterNo = 0;
function redisEngine(): Engine {
  const prefix = `t${++clusterNo}:`;
  const closers: Array<() => Promise<void>> = [];
  return {
    name: 'redis', shared: true,
    async node(nodeId, ttlMs = 30_000) {
      const clients = redisClients({ url: redis.url, prefix, onError: () => undefined });
      closers.push(() => clients.close());
      const options = { nodeId, prefix, onError: (e: unknown) => { throw e; } };
      return {
        presence: new RedisPresence(clients.commands, { prefix, ttlMs }),
        broker: await RedisBroker.start(clients.commands, clients.subscriber, options),
        controller: await RedisController.start(clients.commands, clients.subscriber, options),
      };
    },
    async close() { await Promise.all(closers.map((c) => c())); },
  };
}

const entry = (over: Partial<DeviceEntry> = {}): DeviceEntry => ({ userId: 'alice', deviceId: 'phone', platform: 'ios', sessionId: 's1', nodeId: 'n1', ...over });
const result = (eventId: number, seqs: Array<[string, number]>): AppendResult => ({
  event: { eventId, kind: 'message', conversation: 'p:a:b', sender: 'a', at: 1, clientMsgId: `c${eventId}`, messageId: `m${eventId}`, json: `{"eventId":${eventId}}` },
  seqs: new Map(seqs), duplicate: false,
});

for (const make of [memoryEngine, redisEngine]) {
  describe(`cluster engine: ${make().name}`, () => {
    it('presence: one entry per device; add replaces and hands back the old one; a stale remove keeps the newer session', async () => {
      const engine = make();
      try {
        const { presence } = await engine.node('n1');
        assert.equal(await presence.add(entry()), undefined);
        assert.deepEqual(await presence.add(entry({ sessionId: 's2', nodeId: 'n2' })), entry());
        await presence.remove(entry());
        assert.deepEqual(await presence.devicesOf('alice'), [entry({ sessionId: 's2', nodeId: 'n2' })], 'the old session ending late does not take the new one offline');
        assert.equal(await presence.isOnline('alice', 'phone'), true);
        await presence.add(entry({ deviceId: 'tablet', sessionId: 's3', platform: 'android' }));
        assert.deepEqual([...await presence.onlineAmong([{ userId: 'alice', deviceId: 'tablet' }, { userId: 'alice', deviceId: 'laptop' }, { userId: 'bob', deviceId: 'phone' }])], ['alice\u0000tablet']);
        await presence.remove(entry({ sessionId: 's2' }));
        assert.equal(await presence.isOnline('alice', 'phone'), false);
        assert.equal((await presence.devicesOf('alice')).length, 1);
      } finally {
        await engine.close();
      }
    });

    it('presence: entries a node stops refreshing expire and are handed out once, to one node; refreshed ones stay', async (t) => {
      const engine = make();
      if (!engine.shared) {
        t.skip('the memory directory serves one node, whose entries die with it: nothing expires');
        return;
      }
      try {
        const [a, b, c] = await Promise.all([engine.node('n1', 1500), engine.node('n2', 1500), engine.node('n3', 1500)]);
        await a!.presence.add(entry({ nodeId: 'n1' }));
        const kept = entry({ userId: 'bob', sessionId: 'sb', nodeId: 'n2' });
        await b!.presence.add(kept);
        await sleep(600);
        await b!.presence.refresh([kept]);
        await sleep(1100);
        assert.equal(await a!.presence.isOnline('alice', 'phone'), false, 'offline once its expiry passed');
        const [fromB, fromC] = await Promise.all([b!.presence.expired(), c!.presence.expired()]);
        assert.deepEqual([...fromB!, ...fromC!], [entry({ nodeId: 'n1' })], 'exactly one node gets it');
        assert.deepEqual(await c!.presence.expired(), []);
        assert.equal(await c!.presence.isOnline('bob', 'phone'), true, 'refreshed: still online');
      } finally {
        await engine.close();
      }
    });

    it('presence: a node re-asserting its entries never pulls back a device that moved to another node; an emptied directory gets them back', async () => {
      const engine = make();
      try {
        const [a, b] = await Promise.all([engine.node('n1', 1500), engine.node('n2', 1500)]);
        const onA = entry({ nodeId: 'n1' });
        const other = entry({ deviceId: 'tablet', sessionId: 'st', nodeId: 'n1' });
        await a!.presence.add(onA);
        await a!.presence.add(other);
        // The phone logs in again on n2 before n1 has ended its old session, and n1 refreshes.
        await b!.presence.add(entry({ sessionId: 's2', nodeId: 'n2' }));
        await a!.presence.refresh([onA, other]);
        const devices = (await a!.presence.devicesOf('alice')).sort((x, y) => x.deviceId.localeCompare(y.deviceId));
        assert.deepEqual(devices, [entry({ sessionId: 's2', nodeId: 'n2' }), other]);
        if (engine.shared) {
          // Redis restarted empty: the next refresh (throttled to a third of the TTL) puts n1's entries back.
          await redis.restart();
          await eventually(async () => {
            await a!.presence.refresh([other]).catch(() => undefined);
            return a!.presence.isOnline('alice', 'tablet').catch(() => false);
          }, 5000, 'the tablet back in the directory');
        }
      } finally {
        await engine.close();
      }
    });

    it('broker: this node hears a publication at once; another node hears it, in order, marked remote', async () => {
      const engine = make();
      try {
        const [a, b] = await Promise.all([engine.node('n1'), engine.node('n2')]);
        const heardA: string[] = [];
        const heardB: string[] = [];
        a!.broker.onPublication((rs, origin) => heardA.push(...rs.map((r) => `${origin}:${r.event.eventId}`)));
        if (engine.shared) b!.broker.onPublication((rs, origin) => heardB.push(...rs.map((r) => `${origin}:${r.event.eventId}:${[...r.seqs].join()}`)));
        for (let i = 1; i <= 20; i++) a!.broker.publish([result(i, [['a', i], ['b', i]])]);
        assert.deepEqual(heardA, Array.from({ length: 20 }, (_, i) => `local:${i + 1}`), 'synchronously, before publish returns');
        if (engine.shared) {
          await eventually(() => heardB.length === 20, 3000, 'remote publications');
          assert.deepEqual(heardB, Array.from({ length: 20 }, (_, i) => `remote:${i + 1}:a,${i + 1},b,${i + 1}`));
          assert.equal(heardA.length, 20, 'a node does not hear its own publications twice');
          const signals: string[] = [];
          b!.broker.onSignal((topic, payload) => signals.push(`${topic}=${payload}`));
          a!.broker.signal('blocks', 'alice');
          await eventually(() => signals.length === 1, 3000, 'signal');
          assert.deepEqual(signals, ['blocks=alice']);
        }
      } finally {
        await engine.close();
      }
    });

    it('controller: a command reaches the node holding the session, named by its session id', async () => {
      const engine = make();
      try {
        const [a, b] = await Promise.all([engine.node('n1'), engine.node('n2')]);
        const onA: string[] = [];
        const onB: string[] = [];
        a!.controller.onCommand((target, command: DisconnectCommand) => onA.push(`${target.sessionId}:${command.reason}`));
        if (engine.shared) b!.controller.onCommand((target, command) => onB.push(`${target.sessionId}:${command.reason}`));
        await a!.controller.disconnect(entry({ nodeId: 'n1', sessionId: 'local' }), { reason: 'replaced', message: 'x' });
        assert.deepEqual(onA, ['local:replaced']);
        if (engine.shared) {
          await a!.controller.disconnect(entry({ nodeId: 'n2', sessionId: 'remote' }), { reason: 'kicked', message: 'y', notice: { type: 'kicked', reason: 'single_device_policy' } });
          await eventually(() => onB.length === 1, 3000, 'remote command');
          assert.deepEqual(onB, ['remote:kicked']);
          assert.deepEqual(onA, ['local:replaced'], 'not run on the sender');
        }
      } finally {
        await engine.close();
      }
    });
  });
}
