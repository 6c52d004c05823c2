/**
 * The storage contract (storage/contract.ts), one body per behaviour, run against every dialect
 * in TIDINGS_TEST_DIALECTS (Kysely's DIALECTS loop). A new dialect passes this suite before any
 * server test runs on it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, groupConversation, peerConversation } from '../../protocol/index.ts';
import type { AppendResult, EventDraft, NewPushJob, PushBinding, Store } from '../../storage/index.ts';
import { REBUILT_TABLES } from '../../storage/sql/rebuild.ts';
import { TEST_DIALECTS, withTestStore } from '../helpers/dialects.ts';

const peerMessage = (sender: string, peer: string, clientMsgId: string, text = clientMsgId): EventDraft => ({
  kind: 'message', sender, peer, conversation: peerConversation(sender, peer), clientMsgId,
  data: { to: { user: peer }, content: { type: 'text', text } },
});
const groupMessage = (sender: string, groupId: string, clientMsgId: string): EventDraft => ({
  kind: 'message', sender, group: groupId, conversation: groupConversation(groupId), clientMsgId,
  data: { to: { group: groupId }, content: { type: 'text', text: clientMsgId } },
});
const rejects = async (p: Promise<unknown>, code: string) => {
  await assert.rejects(p, (e: unknown) => e instanceof ProtocolError && e.code === code, `expected ${code}`);
};
const seqsOf = async (store: Store, user: string) => (await store.log.readInbox(user, 0, 1000)).map((e) => e.seq);

async function snapshot(store: Store): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of REBUILT_TABLES) {
    const rows = await store.db.selectFrom(table).selectAll().execute();
    out[table] = rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v])))).sort();
  }
  return out;
}

const binding = (over: Partial<PushBinding> = {}): PushBinding => ({
  pushId: 'pid_alice_phone', deviceId: 'alice-phone', registration: 'apns', token: 'ab'.repeat(32), credential: 'ios',
  options: { environment: 'development', topic: 'com.example.app' }, userId: 'alice', active: true, ...over,
});
const job = (eventId: number, over: Partial<NewPushJob> = {}): NewPushJob => ({
  pushId: 'pid_alice_phone', userId: 'alice', deviceId: 'alice-phone', eventId, seq: eventId, conversation: 'p:alice:bob', kind: 'message', ...over,
});

for (const dialect of TEST_DIALECTS) {
  describe(`storage conformance (${dialect})`, () => {
    it('LOG-1/LOG-3: appends commit in log order; each recipient gets a dense seq, read back in order and in pages', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const results = await Promise.all(Array.from({ length: 60 }, (_, i) => store.log.append(peerMessage(i % 2 ? 'alice' : 'bob', i % 2 ? 'bob' : 'alice', `c${i}`))));
        const ids = results.map((r) => r.event.eventId);
        assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'event ids follow submission order');
        assert.equal(new Set(ids).size, 60);
        assert.deepEqual(await seqsOf(store, 'alice'), Array.from({ length: 60 }, (_, i) => i + 1));
        assert.deepEqual(results.map((r) => r.seqs.get('bob')), Array.from({ length: 60 }, (_, i) => i + 1));
        assert.equal(await store.log.headSeq('alice'), 60);
        assert.equal(store.log.cachedHeadSeq('alice'), 60);
        assert.equal(await store.log.headSeq('nobody'), 0);
        const page = await store.log.readInbox('bob', 10, 5);
        assert.deepEqual(page.map((e) => e.seq), [11, 12, 13, 14, 15]);
        assert.equal(page[0]!.event.eventId, ids[10]);
        // The stored JSON is the delivered event with its id and without a seq.
        const body = JSON.parse(page[0]!.event.json) as Record<string, unknown>;
        assert.equal(body.eventId, ids[10]);
        assert.equal(body.kind, 'message');
        assert.equal('seq' in body, false);
        assert.equal(store.log.lastEventId(), Math.max(...ids));
      });
    });

    it('LOG-2: a resend of a committed message, or a twin in the same batch, is the original, stored once', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const first = await store.log.append(peerMessage('alice', 'bob', 'once'));
        const again = await store.log.append(peerMessage('alice', 'bob', 'once'));
        assert.equal(first.duplicate, false);
        assert.equal(again.duplicate, true);
        assert.equal(again.event.eventId, first.event.eventId);
        assert.equal(again.seqs.get('alice'), first.seqs.get('alice'));
        const [a, b] = await Promise.all([store.log.append(peerMessage('alice', 'bob', 'twin')), store.log.append(peerMessage('alice', 'bob', 'twin'))]);
        assert.equal(a!.event.eventId, b!.event.eventId);
        assert.deepEqual([a!.duplicate, b!.duplicate].sort(), [false, true]);
        // A resend racing its own twin of an earlier batch.
        const [c, d] = await Promise.all([store.log.append(peerMessage('alice', 'bob', 'once')), store.log.append(peerMessage('alice', 'bob', 'once'))]);
        assert.equal(c!.event.eventId, first.event.eventId);
        assert.equal(d!.event.eventId, first.event.eventId);
        assert.deepEqual(await seqsOf(store, 'bob'), [1, 2], 'two messages in the inbox, not five');
        assert.equal((await store.db.selectFrom('events').select('id').execute()).length, 2);
      });
    });

    it('groups: creation, fan-out to every member, joins and leaves order with messages; membership is checked in log order', async () => {
      await withTestStore(dialect, async ({ store }) => {
        await store.log.append({ kind: 'group_created', sender: 'alice', groupId: 'g1', name: 'One', members: ['bob', 'carol'] });
        assert.equal(store.readModels.isGroup('g1'), true);
        assert.equal(store.readModels.groupName('g1'), 'One');
        assert.deepEqual(store.readModels.groupMembers('g1'), ['alice', 'bob', 'carol']);
        const sent = await store.log.append(groupMessage('bob', 'g1', 'hello'));
        assert.deepEqual([...sent.seqs.keys()].sort(), ['alice', 'bob', 'carol']);
        await store.log.append({ kind: 'member_left', sender: 'carol', groupId: 'g1', user: 'carol' });
        await store.log.append({ kind: 'member_joined', sender: 'dave', groupId: 'g1', user: 'dave' });
        assert.deepEqual(store.readModels.groupMembers('g1'), ['alice', 'bob', 'dave']);
        const later = await store.log.append(groupMessage('alice', 'g1', 'later'));
        assert.deepEqual([...later.seqs.keys()].sort(), ['alice', 'bob', 'dave']);
        await rejects(store.log.append(groupMessage('carol', 'g1', 'left')), 'not_group_member');
        await rejects(store.log.append(groupMessage('alice', 'nope', 'x')), 'group_not_found');
        await rejects(store.log.append({ kind: 'group_created', sender: 'bob', groupId: 'g1', name: 'again', members: [] }), 'group_exists');
        // A leave and a send planned in the same batch: the send is refused, the leave stands.
        const [left, refused] = await Promise.allSettled([
          store.log.append({ kind: 'member_left', sender: 'dave', groupId: 'g1', user: 'dave' }),
          store.log.append(groupMessage('dave', 'g1', 'after-leave')),
        ]);
        assert.equal(left.status, 'fulfilled');
        assert.ok(refused.status === 'rejected' && refused.reason instanceof ProtocolError && refused.reason.code === 'not_group_member');
      }, { maxGroupMembers: 4 });
    });

    it('SYNC-4: unread counts follow messages and read receipts; the read cursor only moves forward', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const sent: AppendResult[] = [];
        for (let i = 0; i < 4; i++) sent.push(await store.log.append(peerMessage('alice', 'bob', `m${i}`)));
        await store.log.append(peerMessage('carol', 'bob', 'c1'));
        assert.equal(await store.readModels.totalUnread('bob'), 5);
        assert.equal(await store.readModels.totalUnread('alice'), 0, 'own messages never count');
        const conversation = peerConversation('alice', 'bob');
        await store.log.append({ kind: 'read', sender: 'bob', conversation, upTo: sent[1]!.event.eventId, peer: 'alice' });
        assert.equal(await store.readModels.readCursor('bob', conversation), sent[1]!.event.eventId);
        const unread = await store.readModels.unread('bob');
        assert.deepEqual(unread.map((u) => [u.conversation, u.unread]), [[conversation, 2], [peerConversation('bob', 'carol'), 1]]);
        await store.log.append({ kind: 'read', sender: 'bob', conversation, upTo: sent[0]!.event.eventId, peer: 'alice' });
        assert.equal(await store.readModels.readCursor('bob', conversation), sent[1]!.event.eventId, 'an older read does not move it back');
        assert.equal(await store.readModels.totalUnread('bob'), 3);
        await store.log.append({ kind: 'read', sender: 'bob', conversation, upTo: sent[3]!.event.eventId, peer: 'alice' });
        assert.deepEqual((await store.readModels.unread('bob')).map((u) => [u.conversation, u.unread]), [[peerConversation('bob', 'carol'), 1]], 'read to the newest: nothing unread there');
      });
    });

    it('CALL-1: a call\'s states are a read model; live calls are known without I/O', async () => {
      await withTestStore(dialect, async ({ store }) => {
        await store.log.append({ kind: 'call_invited', sender: 'alice', callId: 'call1', invitees: ['bob', 'carol'], deadline: Date.now() + 60_000 });
        assert.equal(store.readModels.activeCall('call1')?.state, 'ringing');
        assert.deepEqual((await store.readModels.ringingCalls()).map((c) => c.callId), ['call1']);
        await store.log.append({ kind: 'call_state', sender: 'bob', callId: 'call1', action: 'accept', byDevice: 'bob-phone' });
        const call = (await store.readModels.callsByIds(['call1', 'unknown'])).get('call1');
        assert.equal(call?.state, 'accepted');
        assert.deepEqual(call?.invitees, { bob: 'accepted', carol: 'ringing' });
        await store.log.append({ kind: 'call_state', sender: 'alice', callId: 'call1', action: 'end' });
        assert.equal(store.readModels.activeCall('call1'), undefined);
        assert.equal((await store.readModels.callsByIds(['call1'])).get('call1')?.state, 'ended');
        await rejects(store.log.append({ kind: 'call_state', sender: 'carol', callId: 'call1', action: 'accept' }), 'call_ended');
      });
    });

    it('SYNC-1: an acked cursor is visible at once, rides the next commit, and survives a reopen', async () => {
      await withTestStore(dialect, async (t) => {
        await t.store.log.append(peerMessage('alice', 'bob', 'c1'));
        await t.store.log.append(peerMessage('alice', 'bob', 'c2'));
        t.store.cursors.saveAckedSeq('bob', 'bob-phone', 2);
        t.store.cursors.saveAckedSeq('bob', 'bob-phone', 1);
        assert.equal(await t.store.cursors.ackedSeq('bob', 'bob-phone'), 2, 'the newest value wins, before any commit');
        assert.equal(await t.store.cursors.ackedSeq('bob', 'bob-tablet'), 0);
        const store = await t.reopen();
        assert.equal(await store.cursors.ackedSeq('bob', 'bob-phone'), 2, 'flushed on close');
      }, { cursorFlushMs: 60_000 });
    });

    it('a reopened store carries on: ids and seqs continue without gaps, groups and calls are as they were', async () => {
      await withTestStore(dialect, async (t) => {
        await t.store.log.append({ kind: 'group_created', sender: 'alice', groupId: 'g1', name: 'One', members: ['bob'] });
        const before = await t.store.log.append(groupMessage('alice', 'g1', 'before'));
        await t.store.log.append({ kind: 'call_invited', sender: 'alice', callId: 'call1', invitees: ['bob'], deadline: Date.now() + 60_000 });
        const store = await t.reopen();
        assert.equal(store.log.lastEventId(), before.event.eventId + 1);
        assert.deepEqual(store.readModels.groupMembers('g1'), ['alice', 'bob']);
        assert.equal(store.readModels.activeCall('call1')?.state, 'ringing');
        const after = await store.log.append(groupMessage('bob', 'g1', 'after'));
        assert.equal(after.event.eventId, before.event.eventId + 2);
        assert.deepEqual(await seqsOf(store, 'bob'), [1, 2, 3, 4]);
        const resent = await store.log.append(groupMessage('alice', 'g1', 'before'));
        assert.equal(resent.duplicate, true, 'resend detection survives a restart (LOG-2)');
      });
    });

    it('lookups: events by id and message id, and which users have an event in their inbox', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const a = await store.log.append(peerMessage('alice', 'bob', 'a'));
        const b = await store.log.append(peerMessage('carol', 'dave', 'b'));
        const byId = await store.log.eventsByIds([a.event.eventId, b.event.eventId, 999_999]);
        assert.deepEqual([...byId.keys()].sort(), [a.event.eventId, b.event.eventId].sort());
        assert.deepEqual(byId.get(a.event.eventId), a.event);
        assert.deepEqual(await store.log.eventByMessageId(a.event.messageId!), a.event);
        assert.equal(await store.log.eventByMessageId('no-such-id'), undefined);
        const among = await store.log.recipientsAmong(a.event, ['alice', 'bob', 'carol']);
        assert.deepEqual([...among.entries()].sort(), [['alice', 1], ['bob', 1]]);
      });
    });

    it('LOG-4: rebuild recomputes every read model equal to what the live writer produced', async () => {
      await withTestStore(dialect, async ({ store }) => {
        await store.log.append({ kind: 'group_created', sender: 'alice', groupId: 'g1', name: 'One', members: ['bob', 'carol'] });
        const drafts: EventDraft[] = [];
        for (let i = 0; i < 40; i++) drafts.push(i % 3 === 0 ? groupMessage(['alice', 'bob'][i % 2]!, 'g1', `g${i}`) : peerMessage('alice', ['bob', 'carol'][i % 2]!, `p${i}`));
        const results = await Promise.all(drafts.map((d) => store.log.append(d)));
        await store.log.append({ kind: 'read', sender: 'bob', conversation: peerConversation('alice', 'bob'), upTo: results[20]!.event.eventId, peer: 'alice' });
        await store.log.append({ kind: 'read', sender: 'carol', conversation: groupConversation('g1'), upTo: results[30]!.event.eventId });
        await store.log.append({ kind: 'member_left', sender: 'carol', groupId: 'g1', user: 'carol' });
        await store.log.append({ kind: 'call_invited', sender: 'alice', callId: 'call1', invitees: ['bob'], deadline: Date.now() + 60_000 });
        await store.log.append({ kind: 'call_state', sender: 'bob', callId: 'call1', action: 'reject' });
        await store.log.flush();
        const live = await snapshot(store);
        const { events } = await store.rebuild();
        assert.equal(events, store.log.lastEventId());
        assert.deepEqual(await snapshot(store), live);
      });
    });

    it('push store: bindings keep their vendor fields; login activates one user per device; tokens move between devices', async () => {
      await withTestStore(dialect, async ({ store }) => {
        await store.push.upsertBinding(binding());
        assert.deepEqual(await store.push.bindingByPushId('pid_alice_phone'), binding());
        assert.deepEqual(await store.push.bindingByToken('apns', 'ab'.repeat(32)), binding());
        await store.push.upsertBinding(binding({ pushId: 'pid_bob_phone', userId: 'bob', token: 'cd'.repeat(32), options: {} }));
        await store.push.activateDevice('bob', 'alice-phone');
        assert.deepEqual(await store.push.bindingsForDevice('alice', 'alice-phone'), [], 'DEV-4: another user logged in on the device');
        assert.deepEqual((await store.push.bindingsForUsers(['alice', 'bob'])).map((b) => b.pushId), ['pid_bob_phone']);
        await store.push.activateDevice('alice', 'alice-phone');
        assert.equal((await store.push.bindingsForDevice('alice', 'alice-phone')).length, 1);
        await store.push.deactivateDevice('alice', 'alice-phone');
        assert.deepEqual(await store.push.bindingsForDevice('alice', 'alice-phone'), []);
        // The same token registered from another device moves there.
        await store.push.upsertBinding(binding({ pushId: 'pid_alice_tablet', deviceId: 'alice-tablet' }));
        assert.equal(await store.push.bindingByPushId('pid_alice_phone'), undefined);
        const removed = await store.push.removeDeviceBindings('alice', 'alice-tablet', 'apns');
        assert.deepEqual(removed.map((b) => b.pushId), ['pid_alice_tablet']);
        assert.equal((await store.push.bindingByPushId('pid_bob_phone'))?.active, false, 'alice logged in on the device again after bob');
        assert.deepEqual(await store.push.activeBindings('', 10), []);
      });
    });

    it('OPS-3: the outbox holds each (device, event) job once; a claim takes a job once; outcomes, retries and cancels stick', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const now = Date.now();
        const traced = (j: NewPushJob) => ({ eventId: j.eventId, messageId: null, userId: j.userId, deviceId: j.deviceId, pushId: j.pushId, decision: 'queued' as const, reason: 'offline' });
        assert.equal((await store.push.enqueue([job(1), job(2), job(3, { notBefore: now + 60_000 })], now, traced)).length, 3);
        assert.equal((await store.push.enqueue([job(1)], now, traced)).length, 0, 'the job key makes it once');
        const [first, second] = await Promise.all([store.push.claimDue(now, 10, 60_000), store.push.claimDue(now, 10, 60_000)]);
        const claimed = [...first!, ...second!];
        assert.deepEqual(claimed.map((j) => j.eventId).sort(), [1, 2], 'each due job claimed once; the later one is not due');
        assert.ok(claimed.every((j) => j.state === 'sending' && /^[0-9A-F-]{36}$/.test(j.idempotencyKey)));
        const [one, two] = claimed.sort((a, b) => a.eventId - b.eventId);
        await store.push.finish(one!.id, 'delivered', 'delivered', 'vendor-1', 1, { ...traced(job(1)), decision: 'pushed', reason: 'delivered' });
        await store.push.retryLater(two!.id, 1, now + 30_000, 'vendor_retry');
        assert.deepEqual((await store.push.jobs({ userId: 'alice' }, 10)).map((j) => [j.eventId, j.state, j.attempts]), [[1, 'delivered', 1], [2, 'pending', 1], [3, 'pending', 0]]);
        const cancelled = await store.push.cancelPendingForDevice('alice-phone', 'online', undefined, (j) => ({ ...traced(job(j.eventId)), decision: 'cancelled', reason: 'online' }));
        assert.deepEqual(cancelled.map((j) => j.eventId), [2, 3]);
        assert.equal((await store.push.enqueue([job(2)], now, traced)).length, 1, 'a push cancelled because the device came online is owed again (MSG-4)');
        assert.equal((await store.push.enqueue([job(1)], now, traced)).length, 0, 'a delivered one is not');
        const [inFlight] = await store.push.claimDue(now + 1_000, 10, 5_000);
        assert.equal(inFlight?.eventId, 2);
        assert.deepEqual(await store.push.claimDue(now + 2_000, 10, 5_000), [], 'not due again while its lease runs');
        assert.deepEqual((await store.push.claimDue(now + 7_000, 10, 5_000)).map((j) => j.eventId), [2], 'due again once the lease lapsed (its dispatcher died)');
        assert.equal(await store.push.resetInFlight(now + 20_000), 1, 'a crash leaves it sending; the next start re-queues it');
        const trace = await store.push.traceFor({ eventId: 1 }, 10);
        assert.deepEqual(trace.map((r) => `${r.decision}:${r.reason}`), ['queued:offline', 'pushed:delivered']);
        const rows = (await store.db.selectFrom('push_trace').select('id').execute()).length;
        assert.ok(rows >= 4);
        assert.equal(await store.push.pruneTrace(now - 60_000), 0, 'nothing is that old');
        assert.equal(await store.push.pruneTrace(Date.now() + 1), rows);
      });
    });

    it('CALL-2: a call-over is one job per registration and call, whichever transition enqueued it (two nodes racing)', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const now = Date.now();
        const callOver = (eventId: number) => job(eventId, { kind: 'call_over', conversation: 'c:call-1' });
        assert.equal((await store.push.enqueue([callOver(7)], now)).length, 1);
        assert.equal((await store.push.enqueue([callOver(8)], now)).length, 0, 'the second transition finds the first call-over');
        assert.equal((await store.push.enqueue([job(9, { kind: 'call_over', conversation: 'c:call-2' })], now)).length, 1, 'another call is owed its own');
        assert.deepEqual((await store.push.jobs({ userId: 'alice' }, 10)).map((j) => [j.kind, j.eventId, j.conversation]), [['call_over', 7, 'c:call-1'], ['call_over', 9, 'c:call-2']]);
      });
    });

    it('PAY-4: collapsing cancels the other pending message jobs of one binding and conversation', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const now = Date.now();
        await store.push.enqueue([job(1), job(2), job(3), job(4, { conversation: 'p:alice:carol' }), job(5, { kind: 'call_ring' })], now);
        const [keep] = (await store.push.jobs({ userId: 'alice' }, 10)).filter((j) => j.eventId === 3);
        const folded = await store.push.collapsePending(keep!.pushId, keep!.conversation, 'message', keep!.id, 'collapsed');
        assert.deepEqual(folded.map((j) => j.eventId).sort(), [1, 2]);
        assert.deepEqual((await store.push.jobs({ state: 'pending' }, 10)).map((j) => j.eventId), [3, 4, 5]);
      });
    });

    it('vendor state outlives a reopen and expires', async () => {
      await withTestStore(dialect, async (t) => {
        const now = Date.now();
        await t.store.push.saveVendorState('vivo:token:cred', 'T1', now + 60_000);
        await t.store.push.saveVendorState('old', 'gone', now - 1);
        const store = await t.reopen();
        assert.equal(await store.push.vendorState('vivo:token:cred', now), 'T1');
        assert.equal(await store.push.vendorState('old', now), undefined);
        await store.push.saveVendorState('vivo:token:cred', 'T2', now + 60_000);
        assert.equal(await store.push.vendorState('vivo:token:cred', now), 'T2');
      });
    });

    it('SET-1..6: settings default, update, mute and block', async () => {
      await withTestStore(dialect, async (t) => {
        assert.deepEqual(await t.store.settings.get('alice'), { displayName: null, displayStyle: 'banner', dnd: null, pushEnabled: true, syncBadges: true, muted: [], blocked: [] });
        await t.store.settings.update('alice', { displayName: 'Alice', displayStyle: 'summary', dnd: { start: 1320, end: 420, timeZone: 'Europe/Berlin' }, pushEnabled: false });
        await t.store.settings.setMuted('alice', 'g:g1', true);
        await t.store.settings.setBlocked('alice', 'mallory', true);
        assert.equal(t.store.settings.hasBlocked('alice', 'mallory'), true);
        const store = await t.reopen();
        assert.deepEqual(await store.settings.get('alice'), {
          displayName: 'Alice', displayStyle: 'summary', dnd: { start: 1320, end: 420, timeZone: 'Europe/Berlin' }, pushEnabled: false, syncBadges: true, muted: ['g:g1'], blocked: ['mallory'],
        });
        assert.equal(store.settings.hasBlocked('alice', 'mallory'), true);
        await store.settings.setBlocked('alice', 'mallory', false);
        await store.settings.setMuted('alice', 'g:g1', false);
        assert.equal(store.settings.hasBlocked('alice', 'mallory'), false);
        assert.deepEqual((await store.settings.get('alice')).muted, []);
      });
    });

    it('a commit listener that throws is reported and never leaves an append unanswered', async () => {
      const failures: string[] = [];
      await withTestStore(dialect, async ({ store }) => {
        let heard = 0;
        store.log.onCommitted('broken', () => { throw new Error('bug'); });
        store.log.onCommitted('after', (results) => { heard += results.length; });
        const results = await Promise.all([store.log.append(peerMessage('a', 'b', '1')), store.log.append(peerMessage('a', 'b', '2'))]);
        assert.equal(results.length, 2);
        assert.equal(heard, 2, 'the listener after the broken one still heard every commit');
        assert.ok(failures.length >= 1 && failures.every((f) => f === 'broken'));
      }, { onListenerError: (listener) => failures.push(listener) });
    });
  });
}
