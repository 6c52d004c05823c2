/**
 * CALL-1 under a slow database: a call's timeout is asked of the log once per node while it waits
 * to be written, however many sweeps (cluster.sweepMs) pass meanwhile (server/features/calls.ts).
 * Before, every sweep that still read the call as ringing appended another timeout, and under load
 * the writers' batches filled with timeouts the log then refused. That needs the planner to read
 * the call as ringing again while its timeout waits: in a cluster it reads the database again
 * whenever another node's commit does not fit its cache, and the database still says ringing. The
 * test makes both happen on purpose: a second connection holds what the timeout needs to be
 * written, and a commit that fits no cache is observed (as a broker publication delivers one).
 * Once written, the timeout must also stay in the cache that the reload replaced
 * (storage/engine/event-log.ts reads it again), or the next sweep times the call out again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppendResult, EventDraft } from '../../storage/index.ts';
import { storageConfig } from '../../server/runtime-config.ts';
import { holdWrites } from '../helpers/dialects.ts';
import { eventually, sleep, startTestServer } from '../helpers/server.ts';

test('CALL-1: a timeout waiting on a held writer is appended once through many sweeps, and then ends the call', async () => {
  const t = await startTestServer({ cluster: { sweepMs: 100 } });
  try {
    const alice = await t.connect('alice');
    const created = await alice.expect({ type: 'call_invite', invitees: ['bob'], timeoutSec: 1 }, 'call_created');
    const { log } = t.server.ctx.store;
    const asked: EventDraft[] = [];
    const append = log.append.bind(log);
    // Counts what the feature asks of the real log; every append still goes through.
    log.append = (draft) => {
      if (draft.kind === 'call_state' && draft.callId === created.callId) asked.push(draft);
      return append(draft);
    };
    const release = await holdWrites(storageConfig(t.server.ctx.config), ['alice', 'bob']);
    try {
      await eventually(() => asked.length > 0, 3000, 'the timer fired');
      const misfit: AppendResult = {
        event: {
          eventId: log.lastEventId(), kind: 'member_left', conversation: 'g:nowhere', sender: 'zed', at: Date.now(),
          clientMsgId: null, messageId: null, json: JSON.stringify({ kind: 'member_left', groupId: 'nowhere', user: 'zed' }),
        },
        seqs: new Map(), duplicate: false,
      };
      log.observe([misfit]);
      await eventually(async () => (await t.server.ctx.store.readModels.ringingCalls()).some((c) => c.callId === created.callId), 2000, 'the reloaded cache reads the call as ringing');
      await sleep(1500); // 15 sweeps, each reading the call as still ringing
      assert.equal((await t.server.ctx.store.readModels.callsByIds([created.callId])).get(created.callId)?.state, 'ringing', 'still unwritten');
    } finally {
      await release();
    }
    await eventually(async () => (await t.server.ctx.store.readModels.callsByIds([created.callId])).get(created.callId)?.state === 'timed_out', 5000, 'timed out');
    await sleep(500); // sweeps after the write: none asks again
    assert.deepEqual(asked.map((d) => d.kind === 'call_state' && d.action), ['timeout'], 'one timeout asked');
    const stored = await t.server.ctx.store.db.selectFrom('events').select('json').where('kind', '=', 'call_state').execute();
    assert.equal(stored.filter((e) => (JSON.parse(e.json) as { callId: string }).callId === created.callId).length, 1, 'one timeout in the log');
  } finally {
    await t.stop();
  }
});
