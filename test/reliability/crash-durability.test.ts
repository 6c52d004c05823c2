import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../server/auth/tokens.ts';
import type { DeliveredEvent, ServerFrameOf } from '../../protocol/index.ts';
import { TestClient } from '../helpers/client.ts';
import { writeChildConfig } from '../helpers/child-server.ts';
import { apnsToken, registerApns, startPushEnv } from '../helpers/push-env.ts';
import { seededRandom } from '../helpers/random.ts';
import { eventually, TEST_SECRET } from '../helpers/server.ts';
import type { ReceivedApnsPush } from '../../tools/fakes/apns-server.ts';
import { inspectDatabase, sleep, startChild, syncFresh, TrackedDevice, within, type Child } from './harness.ts';

/**
 * OPS-1/LOG-1/LOG-2/OPS-3 under kill -9. A real server process (storage.synchronous FULL, real
 * APNs client against the fake) takes peer and group traffic from several senders while some
 * recipients are offline with APNs tokens and others are online and acking; it is killed -9 at
 * seeded random moments (one kill lands during a group fan-out burst, one during a ringing call),
 * restarted on the same data directory each time, and clients resend what was not acked with the
 * same clientMsgId. At the end: every acked message is in the log and in every recipient's inbox
 * exactly once, resumed devices saw no duplicate and no gap, resends were stored once, every
 * offline device got a push per message (the same apns-id may only repeat across a kill), the
 * call ended timed_out and the database passes integrity_check.
 */

const SEED = Number(process.env.TIDINGS_RELIABILITY_SEED ?? 20251125);
const SENDERS = ['alice', 'bob', 'carol'] as const;
const OFFLINE = ['dave', 'erin', 'frank'] as const; // registered APNs tokens, never connected again
const ONLINE = ['olga', 'paul'] as const; // connected, acking, resume from their own cursor
const EXTRA = Array.from({ length: 12 }, (_, i) => `m${String(i + 1).padStart(2, '0')}`); // group members with no device
const GROUP = 'team';
const MEMBERS = [...SENDERS, ...OFFLINE, ...ONLINE, ...EXTRA];
const PEERS = [...SENDERS, ...OFFLINE, ...ONLINE];
const TOKENS = new Map<string, string>(OFFLINE.map((user, i) => [user, apnsToken(0xd00d + i)]));

type Target = { user: string } | { group: string };
type SendAck = ServerFrameOf<'send_ack'>;

interface Msg {
  sender: string;
  clientMsgId: string;
  to: Target;
  text: string;
  recipients: string[];
  round: number;
  burst: boolean;
  attempts: number;
  acks: SendAck[];
  errors: string[];
  /** Set when the first ack came from a resend after a crash: was the original committed? */
  resentAfterCrash?: 'committed' | 'not_committed';
}

interface Kill {
  round: number;
  label: string;
  at: number;
  exitedAt: number;
}

test(`crash durability: kill -9 at random moments (seed ${SEED}) loses no acked message, duplicates nothing, corrupts nothing`, { timeout: 180_000 }, async (t) => {
  const started = Date.now();
  const random = seededRandom(SEED);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const token = (user: string) => mintToken(TEST_SECRET, user, 3600);
  const env = await startPushEnv();
  // The fake answers 80 ms after it has recorded a push: a kill in that window leaves the job
  // `sending`, and it is sent again after the restart with the same apns-id (allowed, counted).
  env.apnsDev.control.latencyMs = 80;
  const dataDir = mkdtempSync(join(tmpdir(), 'tidings-crash-'));
  const configFile = writeChildConfig(dataDir, {
    storage: { synchronous: 'FULL' },
    limits: { framesPerSecond: 100_000, frameBurst: 100_000 },
    push: {
      credentials: env.credentials, collapseWindowMs: 0, startupGraceMs: 300,
      retryBaseMs: 50, retryMaxMs: 200, pollMs: 20, maxAttempts: 1000,
    },
  });
  const problems: string[] = [];
  const clients: TestClient[] = [];
  const msgs: Msg[] = [];
  const kills: Kill[] = [];
  const roundStats: string[] = [];
  const startups: number[] = [];
  const devices = new Map<string, TrackedDevice>();
  for (const user of [...SENDERS, ...ONLINE]) devices.set(user, new TrackedDevice(user, `${user}-phone`));
  let server: Child | undefined;
  const outputs: string[] = [];

  const boot = async () => {
    server = await startChild(configFile);
    const child = server;
    void child.exited.then(() => outputs.push(child.output()));
    startups.push(server.startupMs);
    // Every tracked device resumes from the newest seq it has (SYNC-2).
    await Promise.all([...devices.values()].map(async (device) => {
      try {
        clients.push(await device.connect(server!.url, token(device.user)));
      } catch (error) {
        throw new Error(`${device.user} could not resume from its cursor ${device.cursor} after a restart ` +
          `(an event it had received is gone?): ${(error as Error).message}`);
      }
    }));
  };

  const send = async (m: Msg): Promise<void> => {
    const device = devices.get(m.sender)!;
    if (!device.online) return;
    m.attempts += 1;
    try {
      const reply = await device.client!.request({ type: 'send', clientMsgId: m.clientMsgId, to: m.to, content: { type: 'text', text: m.text } }, 20_000);
      if (reply.type === 'send_ack') m.acks.push(reply);
      else m.errors.push(JSON.stringify(reply));
    } catch {
      // The connection died (kill -9) before the reply: the ack is lost; resent after the restart.
    }
  };

  let counter = 0;
  const newMsg = (sender: string, round: number, to: Target, burst = false): Msg => {
    const clientMsgId = `${sender}-r${round}-${++counter}`;
    const recipients = 'group' in to ? [...MEMBERS] : [...new Set([sender, to.user])];
    const m: Msg = { sender, clientMsgId, to, text: `text of ${clientMsgId}`, recipients, round, burst, attempts: 0, acks: [], errors: [] };
    msgs.push(m);
    return m;
  };
  const randomTarget = (sender: string): Target => (random() < 0.35 ? { group: GROUP } : { user: pick(PEERS.filter((p) => p !== sender)) });

  /** Each sender keeps up to 6 sends in flight, at random short intervals, until stopped. */
  const startLoad = (round: number) => {
    let stop = false;
    const loops = SENDERS.map(async (sender) => {
      const inflight = new Set<Promise<void>>();
      let sent = 0;
      while (!stop) {
        // At most 25 per sender and round keeps every inbox under push.replayLimit (200).
        if (inflight.size < 6 && sent < 25 && devices.get(sender)!.online) {
          sent += 1;
          const p: Promise<void> = send(newMsg(sender, round, randomTarget(sender))).finally(() => inflight.delete(p));
          inflight.add(p);
        }
        await sleep(3 + Math.floor(random() * 40));
      }
      await Promise.allSettled([...inflight]);
    });
    return {
      halt: () => { stop = true; },
      done: () => Promise.all(loops),
    };
  };

  const crash = async (round: number, label: string) => {
    const at = Date.now();
    const exit = await server!.kill('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    kills.push({ round, label, at, exitedAt: exit.at });
    for (const device of devices.values()) if (device.client) await within(device.client.closed, 5000);
  };

  try {
    // ---- setup: the group, the offline devices' registrations, the online devices.
    await boot();
    const alice = devices.get('alice')!;
    await alice.client!.expect({ type: 'group_create', groupId: GROUP, name: 'Team', members: MEMBERS.filter((u) => u !== 'alice') }, 'group_created');
    for (const user of OFFLINE) {
      const phone = await TestClient.connect(server!.url);
      clients.push(phone);
      await phone.login(token(user), `${user}-iphone`, 'ios');
      await registerApns(phone, TOKENS.get(user)!);
      await phone.close();
    }

    // ---- rounds: load, kill -9 at a random moment, restart, resend what was not acked.
    const rounds = ['random load', 'group fan-out burst', 'ringing call', 'random load'] as const;
    let callId = '';
    let callKill: Kill | undefined;
    for (const [round, label] of rounds.entries()) {
      const load = startLoad(round);
      const burst: Msg[] = [];
      if (label === 'random load') {
        await sleep(150 + Math.floor(random() * 700));
      } else if (label === 'group fan-out burst') {
        await sleep(100 + Math.floor(random() * 200));
        // 30 group messages (600 inbox rows) pipelined in two waves; the second wave leaves right
        // behind the first commit of the first, and the kill right behind the second wave.
        const wave = () => {
          const list: Msg[] = [];
          for (let i = 0; i < 5; i++) for (const sender of SENDERS) list.push(newMsg(sender, round, { group: GROUP }, true));
          for (const m of list) void send(m);
          burst.push(...list);
          return list;
        };
        const first = wave();
        const until = Date.now() + 2000;
        while (!first.some((m) => m.acks.length > 0) && Date.now() < until) await sleep(1);
        wave();
        await sleep(Math.floor(random() * 10));
      } else {
        await sleep(100 + Math.floor(random() * 300));
        const created = await alice.client!.expect({ type: 'call_invite', invitees: ['dave'], timeoutSec: 2 }, 'call_created');
        callId = created.callId;
        await sleep(Math.floor(random() * 50));
      }
      load.halt();
      await crash(round, label);
      if (label === 'ringing call') callKill = kills[kills.length - 1];
      await load.done();
      const inRound = msgs.filter((m) => m.round === round && m.attempts > 0);
      const unacked = inRound.filter((m) => m.acks.length === 0);

      await boot();
      // LOG-2 across a crash: resend every send whose ack was lost, same clientMsgId and content.
      await Promise.all(unacked.map(async (m) => {
        await send(m);
        const ack = m.acks[0];
        if (!ack) problems.push(`resend of ${m.clientMsgId} after the crash got no send_ack: ${m.errors.join(' ')}`);
        else m.resentAfterCrash = ack.duplicate ? 'committed' : 'not_committed';
      }));
      // And a few that were acked: the server must answer with the original.
      for (const m of inRound.filter((x) => x.acks.length > 0).slice(0, 3)) {
        const before = m.acks[0]!;
        await send(m);
        const again = m.acks[m.acks.length - 1]!;
        if (m.acks.length < 2 || !again.duplicate || again.messageId !== before.messageId || again.eventId !== before.eventId) {
          problems.push(`resend of acked ${m.clientMsgId} after the crash: expected the original (duplicate), got ${JSON.stringify(again)}`);
        }
      }
      const committed = unacked.filter((m) => m.resentAfterCrash === 'committed').length;
      roundStats.push(`round ${round + 1} (${label}): ${inRound.length} sends, ${inRound.length - unacked.length} acked before the kill, ` +
        `${unacked.length} ack lost (${committed} had been committed, ${unacked.length - committed} had not)` +
        (burst.length > 0 ? `; burst: ${burst.filter((m) => m.acks.length > 0 && m.resentAfterCrash === undefined).length}/30 acked, ` +
          `${burst.filter((m) => m.resentAfterCrash === 'committed').length} committed unacked, ${burst.filter((m) => m.resentAfterCrash === 'not_committed').length} lost before commit` : ''));
    }

    // ---- verification on the last server.
    const url = server!.url;
    // The call was ringing at the kill; the restarted server must time it out (timer re-armed or overdue).
    await eventually(() => alice.events.some((e) => e.kind === 'call_state' && e.callId === callId && e.state === 'timed_out'), 10_000, 'the call to end as timed_out');

    const fresh = new Map<string, { events: DeliveredEvent[]; headSeq: number }>();
    for (const user of MEMBERS) {
      const result = await syncFresh(url, token(user), `${user}-verify`);
      for (const line of result.invalid) problems.push(`off-spec frame to ${user}-verify: ${line}`);
      fresh.set(user, result);
    }
    // Tracked devices catch up to the head of their inbox.
    for (const device of devices.values()) {
      const head = fresh.get(device.user)!.headSeq;
      await eventually(() => device.cursor >= head, 10_000, `${device.user} to reach seq ${head} (at ${device.cursor})`).catch((e: Error) => problems.push(e.message));
    }
    // Every offline device is pushed every message sent to it (at least once).
    const pushesTo = (user: string) => env.apnsDev.received.filter((p) => p.token === TOKENS.get(user));
    const missingPushes = () => OFFLINE.flatMap((user) => {
      const pushed = new Set(pushesTo(user).map((p) => (p.payload as { messageId?: string }).messageId));
      return fresh.get(user)!.events.filter((e) => e.kind === 'message' && e.from !== user && !pushed.has(e.messageId)).map((e) => `${user}:${e.kind === 'message' ? e.messageId : ''}`);
    });
    await eventually(() => missingPushes().length === 0, 15_000, 'a push for every message to an offline device').catch(() => undefined);
    await eventually(() => pushesTo('dave').some((p) => (p.payload as { type?: string; callId?: string }).type === 'missed_call' && (p.payload as { callId?: string }).callId === callId), 5000, 'missed call push').catch(() => undefined);
    // Let the outbox settle (no job pending or being sent), so the job states read below are final.
    const unsettled = async () => {
      const states = await Promise.all(['pending', 'sending'].map(async (state) => (await (await server!.admin(`/admin/push-jobs?state=${state}`)).json() as { jobs: unknown[] }).jobs.length));
      return states[0]! + states[1]!;
    };
    await eventually(async () => (await unsettled()) === 0, 10_000, 'the push outbox to settle').catch(() => undefined);
    await sleep(300); // let anything still in flight arrive, so a late duplicate is seen
    const received: ReceivedApnsPush[] = [...env.apnsDev.received];
    const finalAt = Date.now();
    const finalExit = await server!.kill('SIGKILL');
    await sleep(0);
    kills.push({ round: rounds.length, label: 'final', at: finalAt, exitedAt: finalExit.at });
    const db = inspectDatabase(join(dataDir, 'tidings.db'));

    // (d) no corrupt database.
    assert.deepEqual(db.integrity, ['ok'], 'PRAGMA integrity_check');

    // (a) every acked message is in the log once, in every recipient's inbox once, and synced once.
    for (const m of msgs.filter((x) => x.attempts > 0)) {
      if (m.errors.length > 0) problems.push(`${m.clientMsgId}: error replies ${m.errors.join(' ')}`);
      const ack = m.acks[0];
      if (!ack) {
        problems.push(`${m.clientMsgId}: never acked`);
        continue;
      }
      if (m.acks.some((a) => a.messageId !== ack.messageId || a.eventId !== ack.eventId)) problems.push(`${m.clientMsgId}: acks disagree ${JSON.stringify(m.acks)}`);
      const rows = db.messages.get(`${m.sender}/${m.clientMsgId}`) ?? [];
      if (rows.length !== 1 || rows[0]!.messageId !== ack.messageId || rows[0]!.id !== ack.eventId) {
        problems.push(`${m.clientMsgId} (acked as ${ack.messageId}/${ack.eventId}): log rows ${JSON.stringify(rows)}`);
      }
      for (const user of m.recipients) {
        const inInbox = (db.inbox.get(user) ?? []).filter((r) => r.eventId === ack.eventId).length;
        if (inInbox !== 1) problems.push(`${m.clientMsgId}: ${inInbox} inbox rows for ${user}`);
        const synced = fresh.get(user)!.events.filter((e) => e.kind === 'message' && e.messageId === ack.messageId).length;
        if (synced !== 1) problems.push(`${m.clientMsgId}: a fresh device of ${user} synced it ${synced} times`);
      }
    }
    const expectedFor = (user: string) => new Set(msgs.filter((m) => m.acks.length > 0 && m.recipients.includes(user)).map((m) => m.acks[0]!.messageId));
    for (const user of MEMBERS) {
      const expected = expectedFor(user);
      const synced = fresh.get(user)!.events.flatMap((e) => (e.kind === 'message' ? [e.messageId] : []));
      const unexpected = synced.filter((id) => !expected.has(id));
      if (unexpected.length > 0) problems.push(`${user}: synced messages nobody was acked for: ${unexpected.join(', ')}`);
      const rows = db.inbox.get(user) ?? [];
      rows.forEach((r, i) => { if (r.seq !== i + 1) problems.push(`${user}: inbox seq ${r.seq} at position ${i + 1} (not dense)`); });
    }
    for (const d of db.duplicateInboxRows) problems.push(`inbox has event ${d.eventId} ${d.n} times for ${d.user}`);

    // (a) resumed devices: no duplicate, no gap (except seqs of calls that were over when synced).
    for (const device of devices.values()) {
      for (const d of device.duplicates) problems.push(`${device.deviceId}: duplicate delivery: ${d}`);
      const rows = db.inbox.get(device.user) ?? [];
      for (const gap of device.gaps) {
        const skipped = rows.filter((r) => r.seq > gap.after && r.seq < gap.got);
        if (skipped.some((r) => !r.kind.startsWith('call_'))) {
          problems.push(`${device.deviceId}: gap in ${gap.frame} on connection ${gap.connection}: after ${gap.after} came ${gap.got} (skipped ${JSON.stringify(skipped)})`);
        }
      }
      const missing = rows.filter((r) => !r.kind.startsWith('call_') && !device.eventIds.has(r.eventId));
      if (missing.length > 0) problems.push(`${device.deviceId}: never received ${missing.length} inbox events, e.g. ${JSON.stringify(missing.slice(0, 5))}`);
      const expected = expectedFor(device.user);
      const got = new Set(device.messageIds());
      const notGot = [...expected].filter((id) => !got.has(id));
      if (notGot.length > 0) problems.push(`${device.deviceId}: acked messages never delivered: ${notGot.slice(0, 5).join(', ')} (${notGot.length})`);
    }

    // The call: timed out, and a fresh device of the invitee sees only its final state.
    const call = db.calls.get(callId);
    if (call?.state !== 'timed_out') problems.push(`call ${callId}: state ${JSON.stringify(call)}`);
    const daveCall = fresh.get('dave')!.events.filter((e) => e.conversation === `c:${callId}`);
    const only = daveCall[0];
    if (daveCall.length !== 1 || only?.kind !== 'call_state' || only.state !== 'timed_out' || only.invitees.dave !== 'timed_out') {
      problems.push(`dave's sync of the call shows ${JSON.stringify(daveCall)}, expected only the final timed_out call_state`);
    }

    // (c) pushes: one apns-id per (device, event, kind of push); the same apns-id again only across
    // a kill. A call that times out owes an offline invitee two pushes for its last event, the
    // missed-call alert and the call-over that stops the ring (docs/PUSH.md), each with its own id.
    const tokens = new Set(TOKENS.values());
    const ours = received.filter((p) => tokens.has(p.token));
    const apnsIds = new Map<string, ReceivedApnsPush[]>();
    const perEvent = new Map<string, Set<string>>();
    for (const p of ours) {
      const id = p.headers['apns-id'];
      if (!id) {
        problems.push(`push without apns-id header to ${p.token}`);
        continue;
      }
      apnsIds.set(id, [...(apnsIds.get(id) ?? []), p]);
      const payload = p.payload as { eventId?: string; type?: string };
      const key = `${p.token}/${payload.eventId}/${payload.type ?? 'message'}`;
      perEvent.set(key, (perEvent.get(key) ?? new Set()).add(id));
    }
    for (const [key, ids] of perEvent) if (ids.size > 1) problems.push(`(token, event, kind) ${key} pushed under ${ids.size} different apns-ids: ${[...ids].join(', ')}`);
    let sameIdResends = 0;
    for (const [id, list] of apnsIds) {
      for (let i = 1; i < list.length; i++) {
        sameIdResends += 1;
        const [a, b] = [list[i - 1]!, list[i]!];
        if (!kills.some((k) => a.receivedAt <= k.exitedAt && b.receivedAt >= k.at)) {
          problems.push(`apns-id ${id} delivered twice within one server lifetime (at ${a.receivedAt} and ${b.receivedAt})`);
        }
      }
    }
    for (const key of missingPushes()) problems.push(`no push for ${key}`);
    const rings = ours.filter((p) => (p.payload as { callId?: string }).callId === callId);
    if (!rings.some((p) => (p.payload as { type?: string }).type === 'missed_call')) problems.push(`no missed-call push to dave for call ${callId}`);
    const lateRings = rings.filter((p) => (p.payload as { type?: string }).type === 'call_ring' && callKill && p.receivedAt >= callKill.exitedAt);
    // A ring after the restart for a call whose deadline passed while the server was down is a known
    // bug with its own failing test (ring-after-restart.test.ts); here it is only reported.
    if (lateRings.length > 0) t.diagnostic(`KNOWN BUG (ring-after-restart.test.ts): ${lateRings.length} ring push(es) for call ${callId} sent after the restart, past the deadline`);
    if (env.apnsProd.received.length > 0 || env.apnsDev.rejected.length > 0) {
      problems.push(`unexpected vendor traffic: ${env.apnsProd.received.length} production pushes, ${env.apnsDev.rejected.length} rejected`);
    }
    const jobStates = new Map<string, number>();
    for (const job of db.jobs) jobStates.set(`${job.kind}:${job.state}`, (jobStates.get(`${job.kind}:${job.state}`) ?? 0) + 1);
    const stuck = db.jobs.filter((j) => j.kind === 'message' && j.state !== 'delivered');
    if (stuck.length > 0) problems.push(`message push jobs not delivered: ${JSON.stringify(stuck.slice(0, 5))} (${stuck.length})`);

    for (const client of clients) for (const line of client.invalid) problems.push(`off-spec server frame: ${line}`);
    const errorLines = outputs.join('\n').split('\n').filter((l) => /"level":(50|60)/.test(l));
    if (errorLines.length > 0) t.diagnostic(`server error logs (${errorLines.length}): ${errorLines.slice(0, 5).join(' | ').slice(0, 3000)}`);

    const attempted = msgs.filter((m) => m.attempts > 0);
    t.diagnostic(`seed ${SEED}; ${attempted.length} messages, ${attempted.filter((m) => 'group' in m.to).length} to the ${MEMBERS.length}-member group`);
    for (const line of roundStats) t.diagnostic(line);
    t.diagnostic(`kills: ${kills.map((k) => `${k.label} (exit ${k.exitedAt - k.at} ms)`).join(', ')}; startups: ${startups.join(', ')} ms`);
    t.diagnostic(`pushes to offline devices: ${ours.length} received, ${apnsIds.size} distinct apns-ids, ${sameIdResends} same-apns-id re-send(s) across a kill; jobs ${JSON.stringify(Object.fromEntries(jobStates))}`);
    t.diagnostic(`inbox sizes: ${OFFLINE.map((u) => `${u} ${db.inbox.get(u)?.length ?? 0}`).join(', ')}; total ${Date.now() - started} ms`);
    for (const user of OFFLINE) assert.ok((db.inbox.get(user)?.length ?? 0) < 200, `${user}'s inbox stays under push.replayLimit, so startup recovery covers it`);
    assert.deepEqual(problems, []);
  } catch (error) {
    if (server) t.diagnostic(`server output (tail): ${server.output().slice(-3000)}`);
    throw error;
  } finally {
    await server?.kill('SIGKILL');
    for (const client of clients) client.socket.terminate();
    await env.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
