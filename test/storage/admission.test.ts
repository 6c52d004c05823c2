/**
 * Admission (storage.maxAppendWaitMs, docs/PROTOCOL.md `overloaded`): while the oldest queued
 * append has waited longer than the bound, new appends are refused with a retryable error and a
 * retryAfterMs, and nothing of theirs is stored; a resend of a message already queued is still
 * answered; once the queue moves, appends are admitted again. The writer is held up on purpose by
 * a second connection that locks what it needs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { peerConversation, ProtocolError } from '../../protocol/index.ts';
import type { EventDraft } from '../../storage/index.ts';
import { holdWrites, TEST_DIALECTS, withTestStore } from '../helpers/dialects.ts';

const send = (id: string): EventDraft => ({
  kind: 'message', sender: 'ann', peer: 'bob', conversation: peerConversation('ann', 'bob'), clientMsgId: id,
  data: { to: { user: 'bob' }, content: { type: 'text', text: id } },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const BOUND_MS = 200;

for (const dialect of TEST_DIALECTS) {
  describe(`admission (${dialect})`, () => {
    it('a queue waiting past storage.maxAppendWaitMs refuses new appends `overloaded`, stores nothing of them, and admits again once it moves', async () => {
      await withTestStore(dialect, async (t) => {
        const log = () => t.store.log;
        await log().append(send('warm-up'));
        const release = await holdWrites(t.database.config, ['ann', 'bob']);
        // One batch held in the writer, one behind it, and one left in the queue, aging.
        const queued: Array<Promise<unknown>> = [];
        for (const id of ['m1', 'm2', 'm3']) {
          queued.push(log().append(send(id)).then((r) => r, (e: unknown) => e));
          await sleep(60);
        }
        await sleep(BOUND_MS + 100);
        // Refused at once (a promise settled while the writer is still held), or the test would hang here.
        const refusal = await Promise.race([log().append(send('m4')).then(() => 'admitted', (e: unknown) => e), sleep(1000).then(() => 'not answered')]);
        assert.ok(refusal instanceof ProtocolError, `refused: ${String(refusal)}`);
        assert.equal(refusal.code, 'overloaded', refusal.message);
        assert.equal(refusal.retryable, true);
        assert.ok(refusal.retryAfterMs !== undefined && refusal.retryAfterMs >= BOUND_MS / 2 && refusal.retryAfterMs <= BOUND_MS * 1.5, `retryAfterMs ${refusal.retryAfterMs}`);
        const readRefusal = await Promise.race([log().append({ kind: 'read', sender: 'bob', conversation: peerConversation('ann', 'bob'), upTo: 1, peer: 'ann' })
          .then(() => 'admitted', (e: unknown) => e), sleep(1000).then(() => 'not answered')]);
        assert.ok(readRefusal instanceof ProtocolError && readRefusal.code === 'overloaded', 'a read receipt is refused too');
        // A resend of a message that is already queued costs nothing: it is answered, not refused.
        const resend = log().append(send('m3'));
        await release();
        const answers = await Promise.all(queued);
        for (const a of answers) assert.ok(!(a instanceof Error), `queued appends commit: ${String(a)}`);
        const again = await resend;
        assert.equal(again.duplicate, true);
        const m4 = await log().append(send('m4'));
        assert.equal(m4.duplicate, false, 'admitted once the queue moved, and stored now for the first time');
        const stored = await t.store.db.selectFrom('events').select('client_msg_id').where('sender', '=', 'ann').orderBy('id').execute();
        assert.deepEqual(stored.map((r) => r.client_msg_id), ['warm-up', 'm1', 'm2', 'm3', 'm4']);
        assert.equal(await t.store.db.selectFrom('events').select('id').where('kind', '=', 'read').execute().then((r) => r.length), 0, 'the refused read was not stored');
      }, { writer: 'thread', maxAppendWaitMs: BOUND_MS });
    });
  });
}
