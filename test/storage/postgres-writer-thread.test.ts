/**
 * LOG-1 on PostgreSQL with `storage.writer=thread`: the append transaction runs on the writer
 * thread's own connection, so it commits while the server thread is busy. That is what keeps a
 * transaction's row locks (which every other node writing to the same users waits for) from
 * being held while its round trips wait for the server's event loop. The inline writer cannot
 * commit until the event loop is free again; the test shows both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventDraft } from '../../storage/index.ts';
import { TEST_DIALECT, TEST_DIALECTS, pgQuerySync, withTestStore } from '../helpers/dialects.ts';

const skip = TEST_DIALECTS.includes('postgres') || TEST_DIALECT === 'postgres' ? false : 'PostgreSQL is not among TIDINGS_TEST_DIALECTS';

const message = (clientMsgId: string): EventDraft => ({
  kind: 'message', sender: 'alice', peer: 'bob', conversation: 'p:alice:bob', clientMsgId, data: { text: 'while you were busy' },
});

/** Keep this thread busy (no event-loop turn) for up to `ms`, asking the database from a child process whether the event is stored. */
function storedWhileBusy(url: string, clientMsgId: string, ms: number): boolean {
  const until = Date.now() + ms;
  do {
    const [row] = pgQuerySync<{ n: number }>(url, [`SELECT count(*)::int AS n FROM events WHERE client_msg_id = '${clientMsgId}'`]);
    if (row?.n === 1) return true;
  } while (Date.now() < until);
  return false;
}

for (const writer of ['thread', 'inline'] as const) {
  test(`LOG-1 (postgres, ${writer} writer): an append ${writer === 'thread' ? 'commits' : 'waits'} while the server thread is busy`, { skip, timeout: 60_000 }, async () => {
    await withTestStore('postgres', async ({ store, database }) => {
      const url = (database.config as { url: string }).url;
      await store.log.append(message('warm-up'));
      const appended = store.log.append(message('c-busy'));
      // Planned and handed to the writer: from here only the writer's connection has work to do.
      while (store.log.queueDepth > 0) await new Promise((resolve) => setImmediate(resolve));
      const stored = storedWhileBusy(url, 'c-busy', 3000);
      assert.equal(stored, writer === 'thread', writer === 'thread'
        ? 'the writer thread committed while the server thread was busy'
        : 'the inline writer needs the server thread to commit');
      const result = await appended;
      assert.equal(result.seqs.get('bob'), 2);
    }, { writer });
  });
}
