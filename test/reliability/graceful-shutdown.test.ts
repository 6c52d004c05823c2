import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../server/auth/tokens.ts';
import type { ServerFrame } from '../../protocol/index.ts';
import { TestClient } from '../helpers/client.ts';
import { writeChildConfig } from '../helpers/child-server.ts';
import { apnsTo, apnsToken, registerApns, startPushEnv } from '../helpers/push-env.ts';
import { eventually, TEST_SECRET } from '../helpers/server.ts';
import { inspectDatabase, sleep, startChild, syncFresh, within, type Child } from './harness.ts';

/**
 * LIM-2 / OPS-3: SIGTERM to a real server process while clients have sends in flight. Clients get
 * `reconnect` then close 1012; every acked send survives the restart; a send the server handled
 * while draining is refused with `server_shutting_down` and had no effect (its resend is new); a
 * send with no reply at all only happens with the 1012 close; the process exits 0 within
 * `shutdown.graceMs`; push jobs still pending (the vendor answers 503) survive and are delivered
 * once after the restart.
 */

const GRACE_MS = 3000;
const RECONNECT_AFTER_MS = 700;

interface Sent {
  client: 'alice' | 'carol';
  clientMsgId: string;
  to: { user: string } | { group: string };
  text: string;
  /** the client had already received `reconnect` when it wrote this send */
  afterReconnect: boolean;
  reply?: ServerFrame;
  resend?: ServerFrame;
}

test('graceful shutdown: SIGTERM with sends in flight drains, acks only durable sends, exits 0 and keeps the push outbox', { timeout: 90_000 }, async (t) => {
  const token = (user: string) => mintToken(TEST_SECRET, user, 3600);
  const env = await startPushEnv();
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-sigterm-'));
  const configFile = writeChildConfig(dataDir, {
    storage: { synchronous: 'FULL' },
    limits: { framesPerSecond: 100_000, frameBurst: 100_000 },
    shutdown: { graceMs: GRACE_MS, reconnectAfterMs: RECONNECT_AFTER_MS }, logLevel: 'info',
    push: { credentials: env.credentials, collapseWindowMs: 0, startupGraceMs: 300, retryBaseMs: 50, retryMaxMs: 200, pollMs: 20, maxAttempts: 1000 },
  });
  const bobToken = apnsToken(0xb0b);
  const clients: TestClient[] = [];
  const connect = async (url: string, user: string, deviceId: string, live = true) => {
    const client = await TestClient.connect(url);
    clients.push(client);
    await client.login(token(user), deviceId, 'android');
    if (live) await client.sync();
    return client;
  };
  let server: Child = await startChild(configFile);
  try {
    // The vendor is down: every push job stays in the outbox, retrying.
    env.apnsDev.control.failNext(1_000_000, 503, 'ServiceUnavailable');
    const bobPhone = await TestClient.connect(server.url);
    clients.push(bobPhone);
    await bobPhone.login(token('bob'), 'bob-iphone', 'ios');
    await registerApns(bobPhone, bobToken);
    await bobPhone.close();

    const alice = await connect(server.url, 'alice', 'alice-phone');
    const carol = await connect(server.url, 'carol', 'carol-phone');
    const olga = await connect(server.url, 'olga', 'olga-phone'); // online, sends nothing
    await carol.expect({ type: 'group_create', groupId: 'crew', name: 'Crew', members: ['alice', 'bob', 'olga'] }, 'group_created');
    const all: Sent[] = [];
    const fire = (who: 'alice' | 'carol', clientMsgId: string): Sent => {
      const client = who === 'alice' ? alice : carol;
      const s: Sent = {
        client: who, clientMsgId, to: who === 'alice' ? { user: 'bob' } : { group: 'crew' }, text: `text of ${clientMsgId}`,
        afterReconnect: client.frames.some((f) => f.type === 'reconnect'),
      };
      all.push(s);
      client.request({ type: 'send', clientMsgId, to: s.to, content: { type: 'text', text: s.text } }, 20_000)
        .then((reply) => { s.reply = reply; }, () => undefined);
      return s;
    };
    for (let i = 0; i < 5; i++) assert.equal((await alice.sendText({ user: 'bob' }, `text of early-${i}`, `early-${i}`)).type, 'send_ack');
    await eventually(async () => {
      const { jobs } = await (await server.admin('/admin/push-jobs?user=bob')).json() as { jobs: Array<{ attempts: number; state: string }> };
      return jobs.length === 5 && jobs.every((j) => j.attempts >= 1 && j.state !== 'delivered');
    }, 8000, 'five push jobs failing and pending');

    // 50 + 50 sends pipelined without awaiting; SIGTERM as soon as the first of them is acked.
    const pipelined: Sent[] = [];
    for (let i = 0; i < 50; i++) pipelined.push(fire('alice', `a-${i}`), fire('carol', `c-${i}`));
    const until = Date.now() + 5000;
    while (!pipelined.some((s) => s.reply) && Date.now() < until) await sleep(1);
    const sigtermAt = Date.now();
    const exited = server.kill('SIGTERM');
    // Keep sending while the server drains, until each socket is gone.
    const late = (['alice', 'carol'] as const).map(async (who) => {
      const client = who === 'alice' ? alice : carol;
      // Every 10 ms until the socket closes (the busy server may notice the signal only after ~1 s).
      for (let i = 0; i < 600 && client.socket.readyState === client.socket.OPEN; i++) {
        fire(who, `${who[0]}-late-${i}`);
        await sleep(10);
      }
    });
    // A connection opened while draining is refused (or the listener is already closed).
    const newcomer = (async () => {
      await sleep(20);
      try {
        const c = await TestClient.connect(server.url);
        clients.push(c);
        const code = await within(c.closed, 5000);
        return `connected, then ${JSON.stringify(c.frames)} and close ${code}`;
      } catch (error) {
        return `refused: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
      }
    })();
    const exit = await exited;
    const exitMs = exit.at - sigtermAt;
    const logTime = (msg: string) => {
      const line = server.output().split('\n').find((l) => l.includes(`"msg":"${msg}"`));
      return line ? (JSON.parse(line) as { time: number }).time : undefined;
    };
    const [signalled, stopped] = [logTime('shutting down'), logTime('tidings stopped')];
    const breakdown = signalled && stopped
      ? `signal handled after ${signalled - sigtermAt} ms, stop() took ${stopped - signalled} ms, exit ${exit.at - stopped} ms later`
      : 'no shutdown log lines';
    await Promise.all(late);
    const closes = await Promise.all([alice, carol, olga].map((c) => within(c.closed, 5000)));
    const newcomerOutcome = await newcomer;
    await sleep(50); // replies already on the wire are read

    assert.equal(exit.code, 0, `exit code (signal ${exit.signal}); output: ${server.output().slice(-2000)}`);
    // The server's own part (signal handled → stopped) must fit in graceMs; the total also includes
    // the time the busy event loop (synchronous SQLite commits) takes to notice the signal.
    assert.ok(signalled && stopped && stopped - signalled <= GRACE_MS, `stop() within shutdown.graceMs ${GRACE_MS}: ${breakdown}`);
    assert.ok(exitMs < GRACE_MS + 2000, `exited ${exitMs} ms after SIGTERM (${breakdown}); shutdown.graceMs is ${GRACE_MS}`);
    for (const [name, client] of [['alice', alice], ['carol', carol], ['olga', olga]] as const) {
      const hints = client.frames.filter((f) => f.type === 'reconnect');
      assert.deepEqual(hints, [{ type: 'reconnect', reason: 'server_shutdown', afterMs: RECONNECT_AFTER_MS }], `${name} gets one reconnect frame`);
    }
    assert.deepEqual(closes, [1012, 1012, 1012], 'close code 1012 after reconnect');
    assert.ok(/^refused: |server_shutting_down/.test(newcomerOutcome), `a connection during the drain: ${newcomerOutcome}`);

    const acked = all.filter((s) => s.reply?.type === 'send_ack');
    const refused = all.filter((s) => s.reply?.type === 'error');
    const silent = all.filter((s) => !s.reply);
    for (const s of refused) {
      assert.ok(s.reply?.type === 'error' && s.reply.code === 'server_shutting_down' && s.reply.retryable, `${s.clientMsgId}: ${JSON.stringify(s.reply)}`);
    }
    const ackedAfterHint = acked.filter((s) => s.afterReconnect);
    assert.deepEqual(ackedAfterHint.map((s) => s.clientMsgId), [], 'a send written after the reconnect frame was handled, not refused');

    // ---- restart: the outbox is still there, nothing was pushed (the vendor is still down).
    server = await startChild(configFile);
    const jobs = (await (await server.admin('/admin/push-jobs?user=bob&limit=1000')).json() as { jobs: Array<{ eventId: number; state: string; apnsId: string }> }).jobs;
    assert.ok(jobs.every((j) => j.state === 'pending' || j.state === 'sending'), `jobs after restart: ${JSON.stringify(jobs.filter((j) => j.state !== 'pending' && j.state !== 'sending'))}`);

    assert.equal(jobs.length, 5 + acked.length, 'one queued job per acked message to bob');

    // Resend everything not acked, with the same clientMsgId: refused sends had no effect.
    const alice2 = await connect(server.url, 'alice', 'alice-phone', false);
    const carol2 = await connect(server.url, 'carol', 'carol-phone', false);
    // Pipelined (in order per client): one commit for all of them, not one fsync each.
    await Promise.all([...refused, ...silent].map(async (s) => {
      s.resend = await (s.client === 'alice' ? alice2 : carol2).request({ type: 'send', clientMsgId: s.clientMsgId, to: s.to, content: { type: 'text', text: s.text } }, 20_000);
    }));
    for (const s of [...refused, ...silent]) assert.equal(s.resend?.type, 'send_ack', `resend of ${s.clientMsgId}: ${JSON.stringify(s.resend)}`);
    const refusedButStored = refused.filter((s) => s.resend?.type === 'send_ack' && s.resend.duplicate);
    assert.deepEqual(refusedButStored.map((s) => s.clientMsgId), [], 'a send refused with server_shutting_down was stored anyway');
    const silentButStored = silent.filter((s) => s.resend?.type === 'send_ack' && s.resend.duplicate);
    assert.deepEqual(silentButStored.map((s) => s.clientMsgId), [], 'a send committed during the drain never got its send_ack');

    // Every acked send is durable and delivered once to a fresh device.
    const bob = await syncFresh(server.url, token('bob'), 'bob-verify');
    const olgaSync = await syncFresh(server.url, token('olga'), 'olga-verify');
    const bobIds = bob.events.flatMap((e) => (e.kind === 'message' ? [e.messageId] : []));
    assert.equal(new Set(bobIds).size, bobIds.length, 'no message twice in bob\'s inbox');
    const ackOf = (s: Sent) => (s.reply?.type === 'send_ack' ? s.reply : s.resend?.type === 'send_ack' ? s.resend : undefined);
    for (const s of all) {
      const ack = ackOf(s);
      assert.ok(ack, `${s.clientMsgId} acked`);
      assert.ok(bobIds.includes(ack.messageId), `${s.clientMsgId} (${ack.messageId}) in bob's inbox`);
      if (s.client === 'carol') assert.ok(olgaSync.events.some((e) => e.kind === 'message' && e.messageId === ack.messageId), `${s.clientMsgId} in olga's inbox`);
    }
    assert.equal(bobIds.length, all.length + 5, 'nothing else in bob\'s inbox');

    // The vendor is back: each message to bob is pushed exactly once, under its job's apns-id.
    env.apnsDev.control.reset();
    const pushes = () => apnsTo(env.apnsDev, bobToken);
    await eventually(() => new Set(pushes().map((p) => (p.payload as { messageId: string }).messageId)).size >= bobIds.length, 15_000, `${bobIds.length} pushes to bob`);
    await sleep(500);
    const received = pushes();
    const byMessage = new Map<string, string[]>();
    for (const p of received) {
      const id = (p.payload as { messageId: string }).messageId;
      byMessage.set(id, [...(byMessage.get(id) ?? []), p.headers['apns-id']!]);
    }
    assert.deepEqual([...byMessage].filter(([, ids]) => ids.length !== 1), [], 'each message pushed exactly once');
    assert.deepEqual(new Set(byMessage.keys()), new Set(bobIds), 'a push for every message to bob');
    const jobIds = new Set(jobs.map((j) => j.apnsId));
    const queuedBefore = [...byMessage.values()].filter(([id]) => jobIds.has(id!)).length;

    // A second graceful stop, then the file is sound.
    const second = await server.kill('SIGTERM');
    assert.equal(second.code, 0);
    assert.deepEqual(inspectDatabase(join(dataDir, 'tidings.db')).integrity, ['ok']);

    for (const client of clients) assert.deepEqual(client.invalid, []);
    t.diagnostic(`sends: ${all.length} (${pipelined.length} pipelined, ${all.length - pipelined.length} during the drain): ${acked.length} acked, ` +
      `${refused.length} server_shutting_down, ${silent.length} no reply (socket closed 1012); ${all.filter((s) => s.afterReconnect).length} written after the reconnect frame`);
    t.diagnostic(`exit 0 after ${exitMs} ms (graceMs ${GRACE_MS}; ${breakdown}); newcomer during drain: ${newcomerOutcome}`);
    t.diagnostic(`push jobs after restart: ${jobs.length} (all pending); ${received.length} pushes delivered after the vendor came back, ${queuedBefore} of them for jobs queued before the SIGTERM`);
  } finally {
    await server.kill('SIGKILL');
    for (const client of clients) client.socket.terminate();
    await env.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
