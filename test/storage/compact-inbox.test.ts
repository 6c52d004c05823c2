/**
 * The compact inbox (storage/sql/compact-inbox.ts, SQLite): one row stands for a run of one group's
 * events. LOG-3 and SYNC-1 must not see the difference: a random history of group and peer
 * messages, reads (to the newest event and partial), leaves, removals, rejoins, role changes, renames, resends,
 * a restart halfway and a dissolution is appended to a store; then the same log is rebuilt with one
 * row per recipient (the storage before compaction) into a copy, and every read is compared:
 * heads, every page of every inbox, the first entry after every event, the recipients of events,
 * and the unread counts and read cursors of conversation_state.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { groupConversation, peerConversation, ProtocolError } from '../../protocol/index.ts';
import type { EventDraft, Store } from '../../storage/index.ts';
import { firstEntryAfter } from '../../storage/sql/inbox-by-event.ts';
import { SqlLogReads } from '../../storage/sql/log-reads.ts';
import { rebuildReadModels } from '../../storage/sql/rebuild.ts';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../storage/index.ts';
import type { SqlDialect } from '../../storage/sql/dialect.ts';
import { openSqliteDatabase, SQLITE, type SqliteStorageConfig } from '../../storage/sqlite/sqlite-database.ts';
import { openPostgresDatabase, POSTGRES } from '../../storage/postgres/postgres-database.ts';
import { createPgDatabase, TEST_DIALECTS, withTestStore, type StoreUnderTest } from '../helpers/dialects.ts';
import { seededRandom } from '../helpers/random.ts';

const USERS = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay'];
const ONE_ROW_EACH = { ...SQLITE, compactInbox: false };
const COMPACT: Record<string, SqlDialect> = { sqlite: SQLITE, postgres: POSTGRES };

/**
 * The same log with one inbox row per recipient: a copy of the events, read models rebuilt without
 * runs (SQLite: a copy of the file, taken with the store closed; PostgreSQL: a second database).
 */
async function oneRowEachCopy(t: StoreUnderTest): Promise<{ db: Kysely<Database>; dialect: SqlDialect; close(): Promise<void> }> {
  if (t.store.dialect === 'postgres') {
    const database = await createPgDatabase();
    const reference = await openPostgresDatabase({ dialect: 'postgres', url: database.url, poolSize: 2 });
    const events = await t.store.db.selectFrom('events').selectAll().orderBy('id').execute();
    for (let i = 0; i < events.length; i += 500) await reference.db.insertInto('events').values(events.slice(i, i + 500)).execute();
    const dialect = { ...POSTGRES, compactInbox: false };
    await rebuildReadModels(reference.db, dialect);
    return { db: reference.db, dialect, close: async () => { await reference.close(); await database.drop(); } };
  }
  await t.store.close();
  const file = (t.database.config as SqliteStorageConfig).file;
  const copy = `${file}.one-row-each.db`;
  copyFileSync(file, copy);
  const reference = await openSqliteDatabase({ ...(t.database.config as SqliteStorageConfig), file: copy });
  await rebuildReadModels(reference.db, ONE_ROW_EACH);
  await t.reopen();
  return { db: reference.db, dialect: ONE_ROW_EACH, close: () => reference.close() };
}

const groupMessage = (sender: string, group: string, id: string): EventDraft => ({
  kind: 'message', sender, group, conversation: groupConversation(group), clientMsgId: id, data: { to: { group }, content: { type: 'text', text: id } },
});
const peerMessage = (sender: string, to: string, id: string): EventDraft => ({
  kind: 'message', sender, peer: to, conversation: peerConversation(sender, to), clientMsgId: id, data: { to: { user: to }, content: { type: 'text', text: id } },
});

/** A random history; membership is tracked here only to pick plausible drafts (the store decides). */
async function appendHistory(t: { store: Store; reopen(): Promise<Store> }, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const members = new Map<string, Set<string>>([['g1', new Set(USERS)], ['g2', new Set(['ben', 'cat', 'dan'])], ['g3', new Set(['eve', 'fay', 'ann'])]]);
  await t.store.log.append({ kind: 'group_created', sender: 'ann', groupId: 'g1', name: 'all', members: USERS, joinPolicy: 'open' });
  await t.store.log.append({ kind: 'group_created', sender: 'ben', groupId: 'g2', name: 'two', members: ['cat', 'dan'], joinPolicy: 'open' });
  await t.store.log.append({ kind: 'group_created', sender: 'eve', groupId: 'g3', name: 'three', members: ['fay', 'ann'], joinPolicy: 'open' });
  const sent: EventDraft[] = [];
  for (let step = 0; step < 400; step += 1) {
    if (step === 200) await t.reopen();
    const drafts: EventDraft[] = [];
    for (let n = 1 + Math.floor(random() * 6); n > 0; n -= 1) {
      const roll = random();
      const group = random() < 0.6 ? 'g1' : pick(['g2', 'g3']);
      const inGroup = [...members.get(group)!];
      const user = pick(USERS);
      if (roll < 0.55 && inGroup.length > 0) drafts.push(groupMessage(pick(inGroup), group, `m${step}.${n}`));
      else if (roll < 0.7) drafts.push(peerMessage(user, pick(USERS.filter((u) => u !== user)), `m${step}.${n}`));
      else if (roll < 0.8) {
        const last = t.store.log.lastEventId();
        const upTo = random() < 0.5 ? last : Math.floor(random() * last);
        const other = pick(USERS.filter((u) => u !== user));
        drafts.push(random() < 0.6
          ? { kind: 'read', sender: user, conversation: groupConversation(group), upTo }
          : { kind: 'read', sender: user, conversation: peerConversation(user, other), upTo, peer: other });
      } else if (roll < 0.86) {
        if (members.get(group)!.has(user)) {
          members.get(group)!.delete(user);
          drafts.push({ kind: 'member_left', sender: user, groupId: group, user });
        } else {
          members.get(group)!.add(user);
          drafts.push({ kind: 'member_joined', sender: user, groupId: group, user });
        }
      } else if (roll < 0.88 && group === 'g1' && inGroup.length > 1) {
        const removed = pick(inGroup.filter((u) => u !== 'ann'));
        members.get(group)!.delete(removed);
        drafts.push({ kind: 'member_left', sender: 'ann', groupId: 'g1', user: removed });
      } else if (roll < 0.9 && group === 'g3') {
        drafts.push({ kind: 'group_updated', sender: 'eve', groupId: 'g3', name: `three ${step}` });
      } else if (roll < 0.92 && group === 'g1' && inGroup.length > 1) {
        drafts.push({ kind: 'member_role', sender: 'ann', groupId: 'g1', user: pick(inGroup.filter((u) => u !== 'ann')), role: random() < 0.5 ? 'admin' : 'member' });
      } else if (sent.length > 0) {
        drafts.push(pick(sent));
      }
    }
    if (step === 350) drafts.push({ kind: 'group_dissolved', sender: 'ben', groupId: 'g2' });
    // Together, so that several land in one batch; a draft the store refuses (a stale membership
    // guess) is simply not in the log.
    for (const outcome of await Promise.allSettled(drafts.map((d) => t.store.log.append(d)))) {
      if (outcome.status === 'rejected' && !(outcome.reason instanceof ProtocolError)) throw outcome.reason;
    }
    sent.push(...drafts.filter((d) => d.kind === 'message'));
  }
}

const sortedRows = async (store: Store, table: 'conversation_state' | 'inbox') =>
  (await store.db.selectFrom(table).selectAll().execute()).map((r) => JSON.stringify(r)).sort();

for (const dialect of TEST_DIALECTS) {
  describe(`the compact inbox (${dialect})`, () => {
    it('LOG-3/SYNC-1: every read of a compact inbox equals the one-row-per-recipient inbox of the same log', async () => {
      await withTestStore(dialect, async (t) => {
        await appendHistory(t, 2026);
        const compactRows = (await t.store.db.selectFrom('inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
        const reference = await oneRowEachCopy(t);
        const store = t.store;
        const compactDialect = COMPACT[dialect]!;
        // Every read is a round trip on PostgreSQL: probe every fifth place there, every place on SQLite.
        const sparse = dialect === 'postgres' ? 5 : 1;
        try {
          const plain = new SqlLogReads(reference.db, reference.dialect);
          const compact = new SqlLogReads(store.db, compactDialect);
          // Both ways of reading a compact inbox: statement by statement (SQLite's) and in one statement (PostgreSQL's).
          const readers = [compact, new SqlLogReads(store.db, { ...compactDialect, remote: !compactDialect.remote })];
          const heads = await plain.inboxHeads([...USERS, 'nobody']);
          assert.deepEqual(await compact.inboxHeads([...USERS, 'nobody']), heads, 'heads');
          const entries = [...heads.values()].reduce((a, b) => a + b, 0);
          const plainRows = (await reference.db.selectFrom('inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
          assert.equal(Number(plainRows), entries, 'the copy has one row per entry');
          assert.ok(Number(compactRows) < entries * 0.8, `runs share rows: ${compactRows} rows for ${entries} entries`);
          console.log(`compact inbox: ${compactRows} rows for ${entries} entries`);
          for (const [user, head] of heads) {
            assert.equal(await store.log.headSeq(user), head, `${user}: the engine's head after a restart`);
            for (const [limit, stride] of [[1000, 4], [1, 1], [3, 7]] as const) {
              for (let after = 0; after <= head; after += stride * sparse) {
                const expected = await plain.readInbox(user, after, head, limit);
                for (const [k, reader] of readers.entries()) {
                  assert.deepEqual(await reader.readInbox(user, after, head, limit), expected, `${user} after ${after} limit ${limit} (reader ${k})`);
                }
              }
            }
            // Bounded below the head, as the engine bounds a read by the head it has applied.
            for (const reader of readers) {
              for (const bound of [Math.floor(head / 2), Math.floor(head / 3)]) {
                assert.deepEqual(await reader.readInbox(user, 0, bound, 1000), await plain.readInbox(user, 0, bound, 1000));
                assert.deepEqual(await reader.readInbox(user, bound, head, 5), await plain.readInbox(user, bound, head, 5));
              }
            }
          }
          const last = store.log.lastEventId();
          for (const user of USERS) {
            for (let after = user.length % 2; after <= last + 1; after += 2 * sparse) {
              assert.deepEqual(await firstEntryAfter(store.db, compactDialect, user, after), await firstEntryAfter(reference.db, reference.dialect, user, after), `${user}: first entry after ${after}`);
            }
          }
          const events = await compact.eventsByIds(Array.from({ length: last }, (_, i) => i + 1));
          for (let id = 1; id <= last; id += 5) {
            const event = events.get(id);
            if (!event) continue;
            assert.deepEqual(await compact.recipientsAmong(event, USERS), await plain.recipientsAmong(event, USERS), `recipients of event ${id}`);
          }
          assert.deepEqual(await sortedRows(store, 'conversation_state'), (await reference.db.selectFrom('conversation_state').selectAll().execute()).map((r) => JSON.stringify(r)).sort(),
            'unread counts, last events and read cursors');
        } finally {
          await reference.close();
        }
      });
    });

    it('LOG-4: rebuild stores the same runs as the live writer did', async () => {
      await withTestStore(dialect, async (t) => {
        await appendHistory(t, 7);
        const live = await sortedRows(t.store, 'inbox');
        assert.ok(live.some((r) => JSON.parse(r).run_ord !== null), 'some rows start runs');
        // PostgreSQL's writers keep each user's head and open run in user_heads (the head read
        // through the run: postgres-writer.ts): rebuild derives them again.
        const userHeads = async (store: Store) => (store.dialect === 'postgres'
          ? (await sql`SELECT h.user_id, h.head + coalesce((SELECT max(e.conv_ord) FROM events e WHERE e.conversation = h.run_conversation) - h.run_last_ord, 0) AS head, h.run_conversation
            FROM user_heads h WHERE h.head > 0 ORDER BY h.user_id`.execute(store.db)).rows : []);
        const liveHeads = await userHeads(t.store);
        if (t.store.dialect === 'postgres') assert.ok(liveHeads.some((r) => (r as { run_conversation: string | null }).run_conversation !== null), 'some users end on a run');
        await t.store.close();
        const reopened = await t.database.open({ writer: 'inline' });
        try {
          await reopened.rebuild();
          assert.deepEqual(await sortedRows(reopened, 'inbox'), live);
          assert.deepEqual(await userHeads(reopened), liveHeads, 'heads and open runs');
        } finally {
          await reopened.close();
        }
        await t.reopen();
      });
    });

    it('a member who hears nothing else in between costs no inbox row for a group message; one who did costs one', async () => {
      await withTestStore(dialect, async ({ store }) => {
        const members = Array.from({ length: 200 }, (_, i) => `u${i}`);
        await store.log.append({ kind: 'group_created', sender: 'u0', groupId: 'big', name: 'big', members });
        const rows = async () => Number((await store.db.selectFrom('inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
        await store.log.append(groupMessage('u1', 'big', 'first'));
        const afterFirst = await rows();
        for (let i = 0; i < 50; i += 1) await store.log.append(groupMessage(members[i % 200]!, 'big', `m${i}`));
        assert.equal(await rows(), afterFirst, '50 more messages to 200 members: no new row');
        await store.log.append(peerMessage('u7', 'u8', 'aside'));
        await store.log.append(groupMessage('u1', 'big', 'after the aside'));
        assert.equal(await rows(), afterFirst + 2 + 2, 'the peer message (2 rows), then a new run for its two users only');
        const page = await store.log.readInbox('u8', 0, 1000);
        assert.deepEqual(page.map((e) => e.seq), Array.from({ length: 54 }, (_, i) => i + 1), 'u8: dense seqs 1..54');
        assert.deepEqual(page.slice(1).map((e) => JSON.parse(e.event.json).clientMsgId),
          ['first', ...Array.from({ length: 50 }, (_, i) => `m${i}`), 'aside', 'after the aside']);
      });
    });

    it('filling a group one join at a time costs a row per joiner, not one per member per join; a leaver\'s run ends', async () => {
      await withTestStore(dialect, async ({ store }) => {
        await store.log.append({ kind: 'group_created', sender: 'owner', groupId: 'fill', name: 'fill', members: ['m0'], joinPolicy: 'open' });
        const rows = async () => Number((await store.db.selectFrom('inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
        const created = await rows();
        for (let i = 1; i <= 300; i += 1) await store.log.append({ kind: 'member_joined', sender: `m${i}`, groupId: 'fill', user: `m${i}` });
        // One row per joiner; the two first members' runs start at the first join (their creation row is plain).
        assert.equal(await rows(), created + 300 + 2, '300 joins, each to every member');
        assert.equal(await store.log.headSeq('owner'), 301, 'the owner has every join');
        await store.log.append({ kind: 'member_left', sender: 'owner', groupId: 'fill', user: 'm5' });
        await store.log.append({ kind: 'group_updated', sender: 'owner', groupId: 'fill', name: 'renamed' });
        await store.log.append(groupMessage('m9', 'fill', 'after the removal'));
        assert.equal(await rows(), created + 302 + 1, 'the removal is a row for the removed only; the rename and the message extend runs');
        const removed = await store.log.readInbox('m5', 0, 1000);
        assert.deepEqual(removed.map((e) => e.event.kind).slice(-2), ['member_joined', 'member_left'], 'm5 stops at its removal');
        assert.equal(await store.log.headSeq('m5'), removed.length);
        const stayed = await store.log.readInbox('m300', 0, 1000);
        assert.deepEqual(stayed.map((e) => e.event.kind), ['member_joined', 'member_left', 'group_updated', 'message']);
        // A read short of the newest event recounts through the run: the rename does not count, the message does.
        await store.log.append({ kind: 'read', sender: 'm300', conversation: groupConversation('fill'), upTo: stayed[1]!.event.eventId });
        const unread = (await store.readModels.unread('m300')).find((c) => c.conversation === groupConversation('fill'));
        assert.equal(unread?.unread, 1, 'unread after reading up to the removal');
      });
    });
  });
}
