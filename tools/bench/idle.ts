/**
 * Idle connections: server memory per logged-in, synced, idle device, on each transport, next to
 * a raw `ws` server holding the same number of bare connections (the baseline, same run).
 *
 *   node --import tsx tools/bench/idle.ts [--devices 2000] [--transports ws,uws] [--json]
 *
 * Targets: 10,000 idle devices in ≤ 500 MiB server RSS on uws (issue 6); 50,000 real ones in
 * ≤ 1.5 GiB (issue 18). Past ~28k sockets one loopback source address runs out of ports, so
 * devices are spread over 127.0.0.2, 127.0.0.3, …; and the bench raises its own open-file limit
 * (prlimit on this process, inherited by the servers it starts), never the system's.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { mintToken } from '../../server/auth/tokens.ts';
import { inBatches, LeanDevice, rssBytesOf } from './lib/lean-device.ts';
import { spawnTsChild, type ChildHandle } from './lib/spawn-child.ts';

const SECRET = 'bench-secret-0123456789abcdef';
const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '2000' },
    transports: { type: 'string', default: 'ws,uws' },
    json: { type: 'boolean', default: false },
  },
});
const devices = Math.min(60_000, Number(args.devices));
const PER_SOURCE = 25_000;
const sourceOf = (i: number) => (devices > PER_SOURCE ? `127.0.0.${2 + Math.floor(i / PER_SOURCE)}` : undefined);

/** Enough descriptors for the clients here and the server child (which inherits the limit). */
function raiseFileLimit(need: number): void {
  const current = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  if (current >= need) return;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${need}:${need}`], { stdio: 'pipe' });
  } catch (error) {
    const hard = Number(execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim());
    // In a container without CAP_SYS_RESOURCE even root cannot pass the hard limit it was given.
    throw new Error(`${devices} devices need ${need} open files; the limit is ${current} (hard ${hard}) and this process may not raise it `
      + `(${(error as Error).message.split('\n')[0]}). Raise the hard limit for the shell first (ulimit -Hn ${need}, as root with CAP_SYS_RESOURCE), `
      + `or measure at most ${Math.max(0, hard - 4096)} devices here.`);
  }
}
raiseFileLimit(devices + 4096);
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function settle(pid: number): Promise<number> {
  await sleep(1500);
  return rssBytesOf(pid);
}

async function measureTidings(transport: string): Promise<{ transport: string; base: number; loaded: number; perDevice: number } | { transport: string; error: string }> {
  let server: ChildHandle | undefined;
  const open: LeanDevice[] = [];
  try {
    server = await spawnTsChild('tools/bench/lib/server-process.ts', ['--config', JSON.stringify({
      transport, auth: { secrets: [SECRET] }, storage: { synchronous: 'NORMAL' },
      limits: { maxConnectionsPerIp: devices + 100 }, heartbeat: { intervalMs: 300_000, timeoutMs: 900_000 },
    })], { label: `tidings/${transport}` });
    const url = server.ready.url as string;
    const base = await settle(server.pid);
    await inBatches(Array.from({ length: devices }, (_, i) => i), 200, async (i) => {
      const device = await LeanDevice.open(url, sourceOf(i));
      open.push(device);
      await device.login(mintToken(SECRET, `u${i}`, 3600), `d${i}`);
      await device.sync();
    });
    const loaded = await settle(server.pid);
    return { transport, base, loaded, perDevice: (loaded - base) / devices };
  } catch (error) {
    return { transport, error: (error as Error).message.split('\n')[0]! };
  } finally {
    for (const d of open) d.socket.terminate();
    await server?.stop();
  }
}

async function measureRawWs(): Promise<{ base: number; loaded: number; perDevice: number }> {
  const server = await spawnTsChild('tools/bench/lib/echo-server.ts', [], { label: 'raw ws' });
  const open: LeanDevice[] = [];
  try {
    const base = await settle(server.pid);
    await inBatches(Array.from({ length: devices }, (_, i) => i), 200, async (i) => {
      open.push(await LeanDevice.open(server.ready.url as string, sourceOf(i)));
    });
    const loaded = await settle(server.pid);
    return { base, loaded, perDevice: (loaded - base) / devices };
  } finally {
    for (const d of open) d.socket.terminate();
    await server.stop();
  }
}

const raw = await measureRawWs();
const results = [];
for (const transport of args.transports.split(',')) results.push(await measureTidings(transport.trim()));

console.log(`tools/bench/idle: ${devices} idle devices (logged in, synced), server RSS`);
console.log(`${'server'.padEnd(22)}${'RSS idle'.padStart(10)}${'RSS loaded'.padStart(12)}${'KiB/device'.padStart(12)}${'vs raw ws'.padStart(11)}${`est. 10k (MiB)`.padStart(16)}`);
const row = (name: string, r: { base: number; loaded: number; perDevice: number }) => console.log(
  `${name.padEnd(22)}${(r.base / MiB).toFixed(0).padStart(10)}${(r.loaded / MiB).toFixed(0).padStart(12)}${(r.perDevice / 1024).toFixed(1).padStart(12)}`
  + `${(r.perDevice / raw.perDevice).toFixed(2).padStart(10)}×${((r.base + r.perDevice * 10_000) / MiB).toFixed(0).padStart(16)}`);
row('raw ws (baseline)', raw);
for (const r of results) {
  if ('error' in r) console.log(`${`tidings/${r.transport}`.padEnd(22)} unavailable: ${r.error}`);
  else row(`tidings/${r.transport}`, r);
}
const uws = results.find((r) => r.transport === 'uws' && !('error' in r)) as { base: number; perDevice: number } | undefined;
if (uws) {
  const at10k = (uws.base + uws.perDevice * 10_000) / MiB;
  console.log(`target 10,000 idle devices ≤ 500 MiB on uws: ${devices >= 10_000 ? 'measured' : 'extrapolated'} ${at10k.toFixed(0)} MiB → ${at10k <= 500 ? 'PASS' : 'FAIL'}`);
  const loaded = (results.find((r) => r.transport === 'uws') as { loaded: number }).loaded / MiB;
  if (devices >= 50_000) console.log(`target 50,000 idle devices ≤ 1,536 MiB on uws: measured ${loaded.toFixed(0)} MiB at ${devices} → ${loaded <= 1536 ? 'PASS' : 'FAIL'}`);
}
if (args.json) console.log(JSON.stringify({ bench: 'idle', devices, raw, results }));
