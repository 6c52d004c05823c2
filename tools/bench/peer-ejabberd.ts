/**
 * tidings next to a real peer: ejabberd (Debian's package, XMPP; mod_mam + mod_offline on its SQL
 * backend on SQLite) on the workload of tools/bench/core.ts, in the same run, one server at a time.
 *
 *   node --import tsx tools/bench/peer-ejabberd.ts [--clients 50] [--inflight 10] [--seconds 5]
 *     [--warmup 1] [--rounds 1] [--text-bytes 64] [--synchronous FULL|NORMAL] [--transport ws|uws]
 *     [--ejabberd-ack sm|receipt] [--ejabberd-journal wal|delete] [--json]
 *
 * tidings counts `send_ack`s (committed for sender and receiver). ejabberd counts XEP-0198 `<a/>`
 * (`sm`: after the sender's archive copy is committed; the receiver's comes later) or XEP-0184
 * receipts the receiver returns once its copy is stored (`receipt`); deliveries count only with the
 * receiver's `<stanza-id/>`. Why, and what is unequal: docs/bench-ejabberd.md. Loopback only,
 * bounded; the target is printed, never the exit code.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EJABBERD_DOMAIN, EJABBERD_PASSWORD, ejabberdStatus, otherBeams, startEjabberd, type EjabberdServer } from './lib/ejabberd-process.ts';
import {
  ADMIN_SECRET, connectAll, fmt, intArg, latencyStats, measurePhase, newPhase, pct, PHASE_OPTIONS, phaseFlags, printTable, SECRET, stampedText, startWatchdog,
  userId, WsLoadClient, type LoadClient, type LoadOptions, type Phase, type Window,
} from './lib/peer-load.ts';
import { cpuSecondsOf, spawnTsChild, type ChildHandle } from './lib/spawn-child.ts';
import { child, XmppConnection, type XmlEl } from './lib/xmpp-client.ts';

const TARGET = 2;
const { values: args } = parseArgs({
  options: {
    ...PHASE_OPTIONS,
    clients: { type: 'string', default: '50' },
    'ejabberd-ack': { type: 'string', default: 'sm' },
    'ejabberd-journal': { type: 'string', default: 'wal' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (args.help) {
  console.log('usage: node --import tsx tools/bench/peer-ejabberd.ts [--clients N] [--inflight W] [--seconds D] [--warmup S] [--rounds R] [--text-bytes B] [--synchronous FULL|NORMAL] [--transport ws|uws] [--ejabberd-ack sm|receipt] [--ejabberd-journal wal|delete] [--json]');
  process.exit(0);
}
let clients = intArg('clients', args.clients, 2, 1000);
if (clients % 2 === 1) clients += 1; // pairs
const { inflight, seconds, warmup, rounds, textBytes, synchronous, writer, load } = phaseFlags(args);
function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  console.error(`--${name} must be ${allowed.join(' or ')}, got "${raw}"`);
  process.exit(2);
}
const transport = oneOf('transport', args.transport ?? 'ws', ['ws', 'uws']);
const ackMode = oneOf('ejabberd-ack', args['ejabberd-ack'], ['sm', 'receipt']);
const journal = oneOf('ejabberd-journal', args['ejabberd-journal'], ['wal', 'delete']);

/** Every message counted while the run lasts, to check ejabberd's archive against it. */
const totals = { acked: 0 };
type Probe = { onAcked?(id: string, body: string): void; onDelivered?(from: string, body: string): void };

/** The XMPP twin of WsLoadClient: a window of pipelined chat messages on one logged-in session. */
class XmppLoadClient implements LoadClient {
  readonly #inflight = new Map<string, { at: number; body: string }>();
  #next = 0;
  #phase: Phase = newPhase();
  #window: Window = { from: Infinity, to: Infinity, sending: false };
  #drained: (() => void) | undefined;
  probe: Probe = {};

  constructor(readonly conn: XmppConnection, private readonly o: { tag: string; peer: string; mode: 'sm' | 'receipt'; load: LoadOptions }) {
    conn.onAcked = (id) => this.#complete(id, true);
    conn.onStanza = (el) => this.#onStanza(el);
    conn.onClose = (why) => this.#error(`closed:${why}`);
  }

  start(phase: Phase, window: Window): void {
    this.#phase = phase;
    this.#window = window;
    for (let i = 0; i < this.o.load.inflight; i++) this.#sendOne();
  }

  drain(timeoutMs: number): Promise<void> {
    if (this.#inflight.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  get pending(): number {
    return this.#inflight.size;
  }

  close(): void {
    this.conn.close();
  }

  #sendOne(): void {
    const id = `${this.o.tag}.${this.#next++}`;
    const at = performance.now();
    const body = stampedText(at, this.o.load.textBytes); // digits, a space and x: nothing to escape
    this.#inflight.set(id, { at, body });
    const receipt = this.o.mode === 'receipt' ? "<request xmlns='urn:xmpp:receipts'/>" : '';
    const xml = `<message to='${this.o.peer}' type='chat' id='${id}'><body>${body}</body>${receipt}</message>`;
    if (this.o.mode === 'sm') this.conn.sendAcked(xml, id);
    else this.conn.send(xml);
  }

  #complete(id: string, ok: boolean): void {
    const sent = this.#inflight.get(id);
    if (!sent) return;
    this.#inflight.delete(id);
    const now = performance.now();
    if (ok) {
      totals.acked += 1;
      this.probe.onAcked?.(id, sent.body);
      if (now >= this.#window.from && now < this.#window.to) {
        this.#phase.completed += 1;
        this.#phase.sendLatencies.push(now - sent.at);
      }
    }
    if (this.#window.sending && now < this.#window.to) this.#sendOne();
    else if (this.#inflight.size === 0) this.#drained?.();
  }

  #error(code: string): void {
    this.#phase.errors += 1;
    this.#phase.errorCodes.set(code, (this.#phase.errorCodes.get(code) ?? 0) + 1);
  }

  #onStanza(el: XmlEl): void {
    if (el.name === 'stream:error') return this.#error(`stream:${el.children[0]?.name ?? '?'}`);
    if (el.name !== 'message') return;
    const id = el.attrs.id ?? '';
    if (el.attrs.type === 'error') {
      this.#error(`message:${child(el, 'error')?.children[0]?.name ?? '?'}`);
      return this.#complete(id, false);
    }
    const received = child(el, 'received', 'urn:xmpp:receipts');
    if (received) return this.#complete(received.attrs.id ?? '', true);
    const body = child(el, 'body')?.text;
    if (body === undefined || child(el, 'delay', 'urn:xmpp:delay')) return; // backlog of an earlier round: not measured
    // The receiver's archive INSERT came first if ejabberd tagged the message with our stanza-id.
    const archived = el.children.some((c) => c.name === 'stanza-id' && c.attrs.xmlns === 'urn:xmpp:sid:0' && c.attrs.by === this.conn.bareJid);
    if (!archived) return this.#error('delivered_without_stanza_id');
    this.probe.onDelivered?.(el.attrs.from ?? '', body);
    if (this.o.mode === 'receipt') this.conn.send(`<message to='${this.o.peer}' id='r${id}'><received xmlns='urn:xmpp:receipts' id='${id}'/></message>`);
    const now = performance.now();
    const sentAt = Number.parseFloat(body);
    if (now >= this.#window.from && now < this.#window.to && Number.isFinite(sentAt)) {
      this.#phase.delivered += 1;
      this.#phase.deliverLatencies.push(now - sentAt);
    }
  }
}

const children = new Set<{ stop(graceMs?: number): Promise<void> }>();
const hardLimitMs = rounds * 2 * (warmup + seconds + 20) * 1000 + 90_000; // phases + start-ups, login of 1000 clients, probe
const watchdog = startWatchdog('peer-ejabberd', hardLimitMs, children);

async function connectXmpp(server: EjabberdServer, tag: string): Promise<XmppLoadClient[]> {
  return connectAll(clients, async (index) => new XmppLoadClient(await XmppConnection.open({
    host: '127.0.0.1', port: server.port, domain: EJABBERD_DOMAIN, user: userId(index), password: EJABBERD_PASSWORD, resource: 'bench',
  }), { tag, peer: `${userId(index ^ 1)}@${EJABBERD_DOMAIN}`, mode: ackMode, load }));
}

/**
 * Wait until a server is idle (under 10% of a core over 250 ms, 20 s at most) before the other
 * one is measured: ejabberd can still be writing receivers' archive copies after its window.
 */
async function waitIdle(pid: number): Promise<void> {
  let last = cpuSecondsOf(pid);
  for (let i = 0; i < 80 && last !== undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = cpuSecondsOf(pid);
    if (now === undefined || now - last < 0.025) return;
    last = now;
  }
}

async function runTidings(server: ChildHandle, round: number, phase: Phase): Promise<void> {
  const pool = await connectAll(clients, (index) => WsLoadClient.connect({
    url: String(server.ready.url), index, mode: 'tidings', tag: `r${round}`, toJson: `{"user":"${userId(index ^ 1)}"}`, sender: true, load,
  }));
  try {
    await Promise.all(pool.map((c) => c.loginAndSync()));
    await measurePhase(pool, server.pid, load, round, phase);
  } finally {
    for (const c of pool) c.close();
  }
  await waitIdle(server.pid);
}

async function runEjabberd(server: EjabberdServer, round: number, phase: Phase): Promise<void> {
  const pool = await connectXmpp(server, `r${round}`);
  try {
    await measurePhase(pool, server.pid, load, round, phase);
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the last deliveries land before streams close
  } finally {
    for (const c of pool) c.close();
  }
  await waitIdle(server.pid);
}

/**
 * Under the same load (not measured), client 0 looks into ejabberd's database the moment each of
 * its messages is acknowledged: is the sender's archive row there, the receiver's? And client 1,
 * when a message arrives with its stanza-id: is its own row there? WAL only (see EjabberdServer).
 */
async function probeAcks(server: EjabberdServer): Promise<Record<string, number>> {
  const pool = await connectXmpp(server, 'probe');
  const db = server.reader();
  const rows = db.prepare('SELECT count(*) AS n FROM archive WHERE username = ? AND bare_peer = ? AND txt = ?').pluck();
  const [u0, u1] = [userId(0), userId(1)];
  const r = { acks: 0, senderRowAtAck: 0, receiverRowAtAck: 0, deliveries: 0, receiverRowAtDelivery: 0 };
  pool[0]!.probe.onAcked = (_id, body) => {
    r.acks += 1;
    if (rows.get(u0, `${u1}@${EJABBERD_DOMAIN}`, body)) r.senderRowAtAck += 1;
    if (rows.get(u1, `${u0}@${EJABBERD_DOMAIN}`, body)) r.receiverRowAtAck += 1;
  };
  pool[1]!.probe.onDelivered = (from, body) => {
    if (!from.startsWith(`${u0}@`)) return;
    r.deliveries += 1;
    if (rows.get(u1, `${u0}@${EJABBERD_DOMAIN}`, body)) r.receiverRowAtDelivery += 1;
  };
  try {
    await measurePhase(pool, server.pid, { ...load, warmup: 0.5, seconds: 2 }, 0, newPhase());
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    for (const c of pool) c.close();
  }
  return r;
}

function summary(phase: Phase, perRound: number[]) {
  const ack = latencyStats(phase.sendLatencies);
  const deliver = latencyStats(phase.deliverLatencies);
  return {
    msgsPerSec: phase.completed / (seconds * rounds), deliveredPerSec: phase.delivered / (seconds * rounds), perRound, ack, deliver,
    serverCpu: pct(phase.serverCpuSec, phase.wallSec), clientCpu: pct(phase.clientCpuSec, phase.wallSec), errors: Object.fromEntries(phase.errorCodes),
  };
}

async function main(): Promise<void> {
  const status = ejabberdStatus();
  if (status.missing) {
    console.log(`tools/bench/peer-ejabberd: skipped — ${status.missing}.`);
    if (status.missing.includes('install')) {
      console.log('  install (Debian/Ubuntu, as root): apt-get update && apt-get install -y ejabberd erlang-p1-sqlite3'
        + '\n  (the bench never uses the system instance; on a systemd host also run: systemctl disable --now ejabberd)');
    }
    if (args.json) console.log(JSON.stringify({ bench: 'peer-ejabberd', skipped: status.missing }));
    return;
  }
  const busy = otherBeams();
  if (busy.length > 0) console.log(`warning: other Erlang VMs are running (pids ${busy.join(', ')}); they compete for the cores`);
  console.log(`tools/bench/peer-ejabberd: ${clients} clients (${clients / 2} pairs), ${inflight} in flight each, ${warmup} s warm-up + ${seconds} s measured`
    + `${rounds > 1 ? ` × ${rounds} rounds (tidings and ejabberd alternate)` : ''}, text ${textBytes} B`);
  console.log(`  tidings: transport ${transport}, SQLite WAL synchronous=${synchronous}, writer=${writer}`);
  console.log(`  ejabberd ${status.version ?? '?'}: mod_mam+mod_offline on SQLite journal=${journal} synchronous=FULL (libsqlite3 default), ack=${ackMode === 'sm' ? 'XEP-0198 <a/>' : 'XEP-0184 receipt'}`
    + `${synchronous !== 'FULL' ? '  (UNEQUAL: tidings runs synchronous=NORMAL)' : ''}`);

  const tidingsServer = await spawnTsChild(fileURLToPath(new URL('./lib/server-process.ts', import.meta.url)), ['--config', JSON.stringify({
    host: '127.0.0.1', port: 0, logLevel: 'silent', transport, auth: { secrets: [SECRET] }, admin: { secret: ADMIN_SECRET },
    limits: { framesPerSecond: 1_000_000, frameBurst: 1_000_000 }, storage: { synchronous, writer },
  })], { label: 'tidings server' });
  children.add(tidingsServer);
  const ejabberd = await startEjabberd({ users: clients, name: userId, journal });
  children.add(ejabberd);

  const tidings = newPhase();
  const ejab = newPhase();
  const perRound = { tidings: [] as number[], ejabberd: [] as number[] };
  let probe: Record<string, number> | undefined;
  let archive: { archive: number; spool: number } | undefined;
  try {
    for (let round = 0; round < rounds; round++) {
      const [t0, e0] = [tidings.completed, ejab.completed];
      await runTidings(tidingsServer, round, tidings);
      perRound.tidings.push((tidings.completed - t0) / seconds);
      await runEjabberd(ejabberd, round, ejab);
      perRound.ejabberd.push((ejab.completed - e0) / seconds);
    }
    if (journal === 'wal') {
      probe = await probeAcks(ejabberd);
      archive = await ejabberd.settledRowCounts();
    }
  } finally {
    await tidingsServer.stop(5000);
    await ejabberd.stop(10_000);
  }

  const t = summary(tidings, perRound.tidings);
  const e = summary(ejab, perRound.ejabberd);
  const ratio = e.msgsPerSec > 0 ? t.msgsPerSec / e.msgsPerSec : 0;
  const pass = ratio >= TARGET && t.ack.p99 < e.ack.p99;
  const row = (name: string, rate: number, l: ReturnType<typeof latencyStats>, cpu: string[]) => [name, fmt(rate, 0), fmt(l.p50, 2), fmt(l.p99, 2), fmt(l.max, 1), ...cpu];
  console.log('');
  printTable([
    ['', 'msgs/s', 'p50 ms', 'p99 ms', 'max ms', 'client cpu', 'server cpu'],
    row('tidings send→ack (stored for both)', t.msgsPerSec, t.ack, [t.clientCpu, t.serverCpu]),
    row('tidings send→deliver', t.deliveredPerSec, t.deliver, ['', '']),
    row(ackMode === 'sm' ? "ejabberd send→<a/> (sender's copy stored)" : 'ejabberd send→receipt (both stored)', e.msgsPerSec, e.ack, [e.clientCpu, e.serverCpu]),
    row("ejabberd send→deliver w/ stanza-id (both)", e.deliveredPerSec, e.deliver, ['', '']),
  ]);
  // Each round runs both back to back, so its own ratio cancels noise that hits both alike.
  const roundRatios = t.perRound.map((r, i) => (e.perRound[i]! > 0 ? r / e.perRound[i]! : 0));
  console.log(`per round msgs/s: tidings ${t.perRound.map((r) => fmt(r, 0)).join(' / ')}; ejabberd ${e.perRound.map((r) => fmt(r, 0)).join(' / ')}`
    + `; ratio per round ${roundRatios.map((r) => r.toFixed(1)).join(' / ')}`);
  console.log(`ratio tidings/ejabberd: ${ratio.toFixed(2)}×  (${fmt(t.msgsPerSec, 0)} ÷ ${fmt(e.msgsPerSec, 0)} msgs/s); p99 ${fmt(t.ack.p99, 2)} ms vs ${fmt(e.ack.p99, 2)} ms`);
  for (const [name, s] of [['tidings', t], ['ejabberd', e]] as const) if (Object.keys(s.errors).length > 0) console.log(`${name} errors: ${JSON.stringify(s.errors)}`);
  if (probe) {
    console.log(`ack probe (client 0 under load): at each ${ackMode === 'sm' ? '<a/>' : 'receipt'} the sender's archive row was there ${probe.senderRowAtAck}/${probe.acks}, the receiver's ${probe.receiverRowAtAck}/${probe.acks}; `
      + `at delivery with stanza-id the receiver's row was there ${probe.receiverRowAtDelivery}/${probe.deliveries}`);
    console.log(`ejabberd archive: ${archive?.archive} rows for ${totals.acked} acknowledged messages (2 per message expected: sender's and receiver's copy); `
      + `${archive?.spool} in mod_offline's spool (messages whose receiver had gone)`);
  }
  console.log(`target ≥ ${TARGET}× ejabberd's durable msgs/s at a lower p99: ${pass ? 'PASS' : 'FAIL'}`);
  if (args.json) {
    console.log(JSON.stringify({
      bench: 'peer-ejabberd', clients, inflight, seconds, warmup, rounds, textBytes, synchronous, transport, ejabberd: { version: status.version, ack: ackMode, journal },
      tidings: t, ejabberdResult: e, ratio, roundRatios, target: TARGET, pass, probe, archive, acknowledged: totals.acked,
    }));
  }
}

try {
  await main();
} catch (error) {
  console.error(`tools/bench/peer-ejabberd failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  for (const c of children) await c.stop(2000);
  clearTimeout(watchdog);
}
