/**
 * LOG-2 while the first send is still being written: a client that resends before its ack (a slow
 * database, a long queue) gets the first send's outcome, marked a duplicate, and the resend is not
 * written again (storage/engine/event-log.ts, the unanswered appends). The writer is held up on purpose
 * by a second connection that locks what it needs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { peerConversation } from '../../protocol/index.ts';
import type { EventDraft } from '../../storage/index.ts';
import { holdWrites, TEST_DIALECTS, withTestStore } from '../helpers/dialects.ts';

const send = (id: string, text = id): EventDraft => ({
  kind: 'message', sender: 'ann', peer: 'bob', conversation: peerConversation('ann', 'bob'), clientMsgId: id,
  data: { to: { user: 'bob' }, content: { type: 'text', text } },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const dialect of TEST_DIALECTS) {
  describe(`a resend while its send is in flight (${dialect})`, () => {
    it('LOG-2: is answered with the first send\'s outcome as a duplicate, and not written again', async () => {
      await withTestStore(dialect, async (t) => {
        const before = await t.store.log.append(send('warm-up'));
        const release = await holdWrites(t.database.config, ['ann', 'bob']);
        const first = t.store.log.append(send('m1'));
        // The first batch is handed to the writer (and waits on the held lock) before the resend
        // and a new send are planned, into the batch behind it.
        await sleep(150);
        const resend = t.store.log.append(send('m1'));
        const conflicting = t.store.log.append(send('m1', 'other text'));
        const next = t.store.log.append(send('m2'));
        await sleep(150);
        await release();
        const [a, b, c, d] = await Promise.all([first, resend, conflicting, next]);
        assert.equal(a.duplicate, false);
        assert.equal(b.duplicate, true, 'the resend is a duplicate');
        assert.equal(b.event.eventId, a.event.eventId, 'of the first send');
        assert.equal(b.seqs.get('ann'), a.seqs.get('ann'), 'with the sender\'s seq of the first send');
        assert.equal(c.event.json, a.event.json, 'a resend with other content gets the original (the server answers idempotency_conflict)');
        assert.equal(d.duplicate, false);
        assert.equal(d.seqs.get('bob'), (a.seqs.get('bob') ?? 0) + 1, 'bob: m1 then m2, dense');
        const stored = await t.store.db.selectFrom('events').select(['id', 'client_msg_id']).where('sender', '=', 'ann').orderBy('id').execute();
        assert.deepEqual(stored.map((r) => r.client_msg_id), ['warm-up', 'm1', 'm2'], 'each message once');
        if (dialect === 'postgres') {
          // A resend that reaches the writer draws an event id before ON CONFLICT finds it: none was drawn.
          assert.equal(d.event.eventId, a.event.eventId + 1, 'm2 takes the id after m1: the resends were never written');
        }
        assert.ok(a.event.eventId > before.event.eventId);
      }, { writer: 'thread' });
    });
  });
}
