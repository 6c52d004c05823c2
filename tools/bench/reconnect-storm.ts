/**
 * Reconnect storm: D devices that each missed M events reconnect at once and sync from their
 * cursor; time until every one has its M events and sync_done. The baseline in the same run is
 * the same D devices reconnecting with nothing to sync (login + empty sync).
 *
 *   node --import tsx tools/bench/reconnect-storm.ts [--devices 1000] [--missed 50] [--transport ws]
 *     [--client sdk|lean|both] [--json]
 *
 * The reconnecting devices are @tidings/client sessions by default (`--client sdk`): what an app
 * does after an outage — login, sync from the cursor it kept, batched acks, dedupe. `--client
 * lean` is the bare bench device (login, sync, count: no acks, no bookkeeping), and `both` runs
 * the two in the same run, so the SDK's own cost in a storm is a ratio too.
 *
 * Target (issue 6): 5,000 devices with 50 missed events each resynced in ≤ 10 s.
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { MemoryStore, TidingsClient, type WebSocketConstructor } from '../../client/src/index.ts';
import { mintToken } from '../../server/auth/tokens.ts';
import { inBatches, LeanDevice } from './lib/lean-device.ts';
import { spawnTsChild } from './lib/spawn-child.ts';

const SECRET = 'bench-secret-0123456789abcdef';
const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    missed: { type: 'string', default: '50' },
    transport: { type: 'string', default: 'ws' },
    'group-size': { type: 'string', default: '100' },
    client: { type: 'string', default: 'sdk' },
    json: { type: 'boolean', default: false },
  },
});
const devices = Math.min(20_000, Number(args.devices));
const missed = Math.min(1000, Number(args.missed));
const groupSize = Math.min(devices, Number(args['group-size']));
const clientKinds = args.client === 'both' ? ['lean', 'sdk'] as const : args.client === 'lean' || args.client === 'sdk' ? [args.client] : undefined;
if (!clientKinds) throw new Error('--client must be sdk, lean or both');

const server = await spawnTsChild('tools/bench/lib/server-process.ts', ['--config', JSON.stringify({
  transport: args.transport, auth: { secrets: [SECRET] }, storage: { synchronous: 'NORMAL' },
  limits: { maxConnectionsPerIp: 2 * devices + 100, framesPerSecond: 100_000, frameBurst: 100_000, maxGroupMembers: Math.max(2000, groupSize) },
  heartbeat: { intervalMs: 300_000, timeoutMs: 900_000 },
})], { label: 'tidings' });
const url = server.ready.url as string;
const token = (user: string) => mintToken(SECRET, user, 3600);

try {
  // Setup: groups of groupSize; each group gets `missed` messages while its members are away,
  // so every device has exactly `missed` events after its cursor.
  const users = Array.from({ length: devices }, (_, i) => `u${i}`);
  const admin = await LeanDevice.open(url);
  await admin.login(token('storm-admin'), 'admin');
  const groups: string[][] = [];
  for (let i = 0; i < users.length; i += groupSize) groups.push(users.slice(i, i + groupSize));
  for (const [g, members] of groups.entries()) {
    const created = admin.next('group_created');
    admin.send({ type: 'group_create', groupId: `g${g}`, name: `g${g}`, members });
    await created;
  }
  // Each device's cursor: everything so far (its group_created event).
  const cursors = new Map<string, number>();
  await inBatches(users, 200, async (user) => {
    const d = await LeanDevice.open(url);
    const ok = await d.login(token(user), `${user}-phone`);
    cursors.set(user, ok.headSeq as number);
    d.socket.terminate();
  });
  let sent = 0;
  for (let m = 0; m < missed; m++) {
    for (let g = 0; g < groups.length; g++) {
      const ack = admin.next('send_ack');
      admin.send({ type: 'send', clientMsgId: `m${m}-g${g}`, to: { group: `g${g}` }, content: { type: 'text', text: `missed ${m}` } });
      await ack;
      sent += 1;
    }
  }

  /** One reconnecting device: resolves with the events it received once it caught up (sync_done). */
  type Reconnect = (user: string, withBacklog: boolean) => Promise<{ events: number; close: () => Promise<void> | void }>;
  const lean: Reconnect = async (user, withBacklog) => {
    const d = await LeanDevice.open(url);
    const ok = await d.login(token(user), `${user}-phone`);
    await d.sync(withBacklog ? cursors.get(user)! : (ok.headSeq as number));
    return { events: d.events, close: () => d.socket.terminate() };
  };
  const sdk: Reconnect = async (user, withBacklog) => {
    // The cursor the app kept; without a backlog it is already at the head (nothing to sync).
    const store = new MemoryStore();
    store.cursor = withBacklog ? cursors.get(user)! : cursors.get(user)! + missed;
    const client = new TidingsClient({
      url, token: token(user), deviceId: `${user}-phone`, platform: 'android', store, reconnect: false,
      WebSocket: WebSocket as unknown as WebSocketConstructor, rateLimit: false,
    });
    let events = 0;
    client.on('event', () => { events += 1; });
    await client.connect();
    return { events, close: () => client.close() };
  };

  const storm = async (reconnect: Reconnect, withBacklog: boolean): Promise<{ ms: number; events: number }> => {
    const started = performance.now();
    let events = 0;
    const opened: Array<() => Promise<void> | void> = [];
    await Promise.all(users.map(async (user) => {
      const d = await reconnect(user, withBacklog);
      opened.push(d.close);
      events += d.events;
    }));
    const ms = performance.now() - started;
    // Every socket closed before the next storm: their sessions must not count against the next one's connections.
    await Promise.all(opened.map((close) => close()));
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { ms, events };
  };
  console.log(`tools/bench/reconnect-storm: ${devices} devices × ${missed} missed events (${sent} group messages, groups of ${groupSize}), transport ${args.transport}`);
  const results: Record<string, { baselineMs: number; stormMs: number; events: number; complete: boolean }> = {};
  for (const kind of clientKinds) {
    const reconnect = kind === 'sdk' ? sdk : lean;
    const baseline = await storm(reconnect, false);
    const result = await storm(reconnect, true);
    const complete = result.events === devices * missed;
    results[kind] = { baselineMs: baseline.ms, stormMs: result.ms, events: result.events, complete };
    console.log(`  ${kind === 'sdk' ? '@tidings/client sessions' : 'lean bench devices (no acks)'}:`);
    console.log(`    reconnect, nothing to sync (baseline): ${(baseline.ms / 1000).toFixed(2)} s`);
    console.log(`    reconnect + resync ${missed} events each: ${(result.ms / 1000).toFixed(2)} s, ${result.events} events delivered${complete ? '' : ` (EXPECTED ${devices * missed})`}`);
    console.log(`    ratio storm/baseline: ${(result.ms / baseline.ms).toFixed(2)}×; events/s during the storm: ${Math.round(result.events / (result.ms / 1000))}`);
    console.log(`    target 5,000 devices in ≤ 10 s: ${devices >= 5000 ? (result.ms <= 10_000 && complete ? 'PASS' : 'FAIL') : `n/a at ${devices} devices (run --devices 5000)`}`);
  }
  if (results.sdk && results.lean) console.log(`  storm with the SDK ÷ storm with lean devices: ${(results.sdk.stormMs / results.lean.stormMs).toFixed(2)}×`);
  if (args.json) console.log(JSON.stringify({ bench: 'reconnect-storm', devices, missed, ...(results.sdk ?? results.lean!), clients: results }));
  admin.socket.terminate();
} finally {
  await server.stop();
}
