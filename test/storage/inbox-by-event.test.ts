/**
 * Finding a user's inbox entries by event (storage/sql/inbox-by-event.ts): by a search over the
 * primary key, through the compact inbox's runs (every writer hands out a user's seqs in event
 * order). One body per dialect in TIDINGS_TEST_DIALECTS, checked against a brute-force answer from
 * the user's inbox as read back in seq order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { groupConversation, peerConversation } from '../../protocol/index.ts';
import type { EventDraft, Store } from '../../storage/index.ts';
import { firstEntryAfter, type InboxPlace } from '../../storage/sql/inbox-by-event.ts';
import type { SqlDialect } from '../../storage/sql/dialect.ts';
import { SQLITE } from '../../storage/sqlite/sqlite-database.ts';
import { POSTGRES } from '../../storage/postgres/postgres-database.ts';
import { TEST_DIALECTS, withTestStore } from '../helpers/dialects.ts';
import { seededRandom } from '../helpers/random.ts';

const USERS = ['ann', 'ben', 'cat', 'dan'];
const peer = (sender: string, to: string, id: string): EventDraft => ({
  kind: 'message', sender, peer: to, conversation: peerConversation(sender, to), clientMsgId: id, data: { to: { user: to }, content: { type: 'text', text: id } },
});
const inGroup = (sender: string, id: string): EventDraft => ({
  kind: 'message', sender, group: 'g1', conversation: groupConversation('g1'), clientMsgId: id, data: { to: { group: 'g1' }, content: { type: 'text', text: id } },
});

/**
 * The ways of searching this store's inbox through the compact inbox's runs: the galloping search
 * over the key (SQLite's, a cheap probe a step) and the one-statement search (PostgreSQL's, whose
 * statements are round trips), each on this store's dialect.
 */
function searches(store: Store): SqlDialect[] {
  const own = store.dialect === 'postgres' ? POSTGRES : SQLITE;
  return [{ ...own, remote: false }, { ...own, remote: true }];
}

function bruteForce(entries: readonly InboxPlace[], after: number): InboxPlace | undefined {
  return entries.find((e) => e.eventId > after);
}

for (const dialect of TEST_DIALECTS) {
  describe(`inbox entries by event (${dialect})`, () => {
    it('LOG-3: the first entry after any event id, for users whose entries are spread over the log', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const random = seededRandom(18);
        await store.log.append({ kind: 'group_created', sender: 'ann', groupId: 'g1', name: 'g', members: ['ben', 'cat'] });
        for (let i = 0; i < 300; i++) {
          const sender = USERS[Math.floor(random() * USERS.length)]!;
          const others = USERS.filter((u) => u !== sender);
          const to = others[Math.floor(random() * others.length)]!;
          await store.log.append(random() < 0.3 && sender !== 'dan' ? inGroup(sender, `m${i}`) : peer(sender, to, `m${i}`));
        }
        const last = store.log.lastEventId();
        for (const user of [...USERS, 'nobody']) {
          const entries = (await store.log.readInbox(user, 0, 10_000)).map((e) => ({ seq: e.seq, eventId: e.event.eventId }));
          for (const search of searches(store)) {
            for (let after = 0; after <= last + 1; after++) {
              assert.deepEqual(await firstEntryAfter(store.db, search, user, after), bruteForce(entries, after),
                `${user} after ${after} (remote=${search.remote})`);
            }
          }
        }
      });
    });

    it('the inbox carries no index by event, on either dialect', async () => {
      await withTestStore(dialect, async ({ store }) => {
        if (store.dialect === 'postgres') {
          const { rows } = await sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE tablename = 'inbox'`.execute(store.db);
          assert.deepEqual(rows.map((r) => r.indexname), ['inbox_pkey'], 'the primary key (user_id, seq) only');
        } else {
          const { rows } = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'inbox'`.execute(store.db);
          assert.deepEqual(rows.map((r) => r.name), [], 'no index besides the primary key (user_id, seq), which a WITHOUT ROWID table is');
        }
      });
    });

    it('recipientsAmong: each member of a large group with their own seq for the event; non-members absent', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const members = Array.from({ length: 130 }, (_, i) => `m${String(i).padStart(3, '0')}`);
        await store.log.append({ kind: 'group_created', sender: 'ann', groupId: 'g1', name: 'g', members });
        // Uneven histories, so the members' seqs for one event differ.
        for (const [i, user] of members.entries()) for (let k = 0; k < i % 4; k++) await store.log.append(peer('ben', user, `p${i}.${k}`));
        const { event, seqs } = await store.log.append(inGroup('ann', 'target'));
        for (let i = 0; i < 20; i++) await store.log.append(inGroup(members[i]!, `after${i}`));
        const found = await store.log.recipientsAmong(event, [...members, 'ann', 'ben', 'nobody']);
        assert.deepEqual([...found].sort(), [...seqs].sort(), 'every recipient, with the seq the append gave them');
        assert.equal(found.has('ben'), false);
        assert.equal(found.size, members.length + 1);
      });
    });

    it('seqs need not be dense: gaps of any size are searched over', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const random = seededRandom(7);
        const entries: InboxPlace[] = [];
        let seq = 0;
        let eventId = 0;
        for (let i = 0; i < 120; i++) {
          seq += 1 + Math.floor(random() ** 4 * 50);
          eventId += 1 + Math.floor(random() * 5);
          entries.push({ seq, eventId });
        }
        await store.db.insertInto('inbox').values(entries.map((e) => ({ user_id: 'gappy', seq: e.seq, event_id: e.eventId, conversation: 'p:x:y', countable: 1 }))).execute();
        for (const search of searches(store)) {
          for (let after = 0; after <= eventId + 1; after++) {
            assert.deepEqual(await firstEntryAfter(store.db, search, 'gappy', after), bruteForce(entries, after), `after ${after} (remote=${search.remote})`);
          }
        }
      });
    });
  });
}
