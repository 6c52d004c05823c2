/**
 * LOG-4 for the effects a writer applies a batch at a time (storage/postgres/side-effects.ts): a
 * call changed several times and a conversation read several times in one batch must leave the
 * rows that one change at a time leaves, which is what `rebuild` recomputes from the log.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { groupConversation, peerConversation } from '../../protocol/index.ts';
import type { EventDraft, Store } from '../../storage/index.ts';
import { TEST_DIALECTS, withTestStore } from '../helpers/dialects.ts';

const rowsOf = async (store: Store, table: 'calls' | 'conversation_state') =>
  (await store.db.selectFrom(table).selectAll().execute()).map((r) => JSON.stringify(r)).sort();

const text = (sender: string, to: { user: string } | { group: string }, id: string): EventDraft => ('user' in to
  ? { kind: 'message', sender, peer: to.user, conversation: peerConversation(sender, to.user), clientMsgId: id, data: { to, content: { type: 'text', text: id } } }
  : { kind: 'message', sender, group: to.group, conversation: groupConversation(to.group), clientMsgId: id, data: { to, content: { type: 'text', text: id } } });

for (const dialect of TEST_DIALECTS) {
  describe(`side effects of one batch (${dialect})`, () => {
    it('LOG-4: several changes of one call and several reads of one conversation in a batch store what rebuild derives', async () => {
      await withTestStore(dialect, async (t) => {
        const log = () => t.store.log;
        await log().append({ kind: 'group_created', sender: 'ann', groupId: 'g', name: 'g', members: ['ben', 'cat'], joinPolicy: 'open' });
        const ids: number[] = [];
        for (let i = 0; i < 12; i += 1) {
          const r = await log().append(i % 2 === 0 ? text('ben', { group: 'g' }, `g${i}`) : text('cat', { user: 'ann' }, `p${i}`));
          ids.push(r.event.eventId);
        }
        const rung = await log().append({ kind: 'call_invited', sender: 'ann', callId: 'c1', invitees: ['ben', 'cat'], deadline: Date.now() + 60_000 });
        assert.ok(rung.event.eventId > 0);
        // Together, so that they are planned and written as one batch: a call rung, accepted and
        // ended; another answered twice; reads of one conversation up to, beyond and below each other.
        const together: EventDraft[] = [
          { kind: 'call_invited', sender: 'ben', callId: 'c2', invitees: ['cat'], deadline: Date.now() + 30_000 },
          { kind: 'call_state', sender: 'cat', callId: 'c2', action: 'accept' },
          { kind: 'call_state', sender: 'ben', callId: 'c2', action: 'end' },
          { kind: 'call_state', sender: 'ben', callId: 'c1', action: 'accept' },
          { kind: 'read', sender: 'ann', conversation: groupConversation('g'), upTo: ids[4]! },
          { kind: 'read', sender: 'ann', conversation: groupConversation('g'), upTo: ids[8]! },
          { kind: 'read', sender: 'ann', conversation: groupConversation('g'), upTo: ids[2]! },
          { kind: 'read', sender: 'cat', conversation: groupConversation('g'), upTo: ids[10]! },
          { kind: 'read', sender: 'ann', conversation: peerConversation('ann', 'cat'), upTo: ids[3]!, peer: 'cat' },
          { kind: 'read', sender: 'ann', conversation: peerConversation('ann', 'cat'), upTo: ids[1]!, peer: 'cat' },
          { kind: 'call_state', sender: 'cat', callId: 'c1', action: 'reject' },
          text('cat', { group: 'g' }, 'after the reads'),
        ];
        const settled = await Promise.allSettled(together.map((d) => log().append(d)));
        const outcomes = settled.map((o, k) => {
          if (o.status === 'rejected') throw new Error(`draft ${k} (${together[k]!.kind}) was refused: ${String(o.reason)}`);
          return o.value;
        });
        const live = { calls: await rowsOf(t.store, 'calls'), conversations: await rowsOf(t.store, 'conversation_state') };
        const c2 = (await t.store.db.selectFrom('calls').selectAll().where('call_id', '=', 'c2').executeTakeFirstOrThrow());
        assert.equal(c2.state, 'ended');
        assert.equal(Number(c2.created_event_id), outcomes[0]!.event.eventId, 'c2 was created by its invitation');
        const annGroup = await t.store.db.selectFrom('conversation_state').selectAll()
          .where('user_id', '=', 'ann').where('conversation', '=', groupConversation('g')).executeTakeFirstOrThrow();
        assert.equal(Number(annGroup.read_event_id), ids[8], 'the larger cursor wins, whatever the order');
        assert.equal(Number(annGroup.unread), 2, 'ben\'s message after ids[8], and cat\'s after the reads');

        await t.store.close();
        const rebuilt = await t.database.open({ writer: 'inline' });
        try {
          await rebuilt.rebuild();
          assert.deepEqual(await rowsOf(rebuilt, 'calls'), live.calls, 'calls');
          assert.deepEqual(await rowsOf(rebuilt, 'conversation_state'), live.conversations, 'unread counts and read cursors');
        } finally {
          await rebuilt.close();
        }
        await t.reopen();
      });
    });
  });
}
