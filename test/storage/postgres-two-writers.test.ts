/**
 * Two processes on one PostgreSQL database: two stores opened separately (two pools, two
 * planners), appending at once. The database assigns ids and seqs and holds the shared state, so:
 * every user's inbox is one gap-free, duplicate-free seq; every event is in each of its recipients'
 * inboxes once; a resend from both is stored once; within a user's inbox event ids follow seqs
 * (the log replays to the same read models, LOG-4); nothing deadlocks; and membership changed
 * through one store is honoured by the other, whose planner had not heard of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { ProtocolError, groupConversation, peerConversation } from '../../protocol/index.ts';
import type { AppendResult, EventDraft, Store } from '../../storage/index.ts';
import { REBUILT_TABLES } from '../../storage/sql/rebuild.ts';
import { SqlLogReads } from '../../storage/sql/log-reads.ts';
import { POSTGRES } from '../../storage/postgres/postgres-database.ts';
import { createTestDatabase, TEST_DIALECT, TEST_DIALECTS, type TestDatabase } from '../helpers/dialects.ts';
import { seededRandom } from '../helpers/random.ts';

const skip = TEST_DIALECTS.includes('postgres') || TEST_DIALECT === 'postgres' ? false : 'PostgreSQL is not among TIDINGS_TEST_DIALECTS';

const USERS = Array.from({ length: 10 }, (_, i) => `u${i}`);
const GROUP = 'team';
const STABLE = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5']; // members throughout
const CHURN = 'u6'; // joins and leaves through store A while both send

const peer = (sender: string, to: string, clientMsgId: string): EventDraft => ({
  kind: 'message', sender, peer: to, conversation: peerConversation(sender, to), clientMsgId, data: { to: { user: to }, content: { type: 'text', text: clientMsgId } },
});
const toGroup = (sender: string, clientMsgId: string): EventDraft => ({
  kind: 'message', sender, group: GROUP, conversation: groupConversation(GROUP), clientMsgId, data: { to: { group: GROUP }, content: { type: 'text', text: clientMsgId } },
});

/** Two stores on one fresh database; `setup` runs on A before B opens (B's planner loads what it did). */
async function withTwoStores(setup: (a: Store) => Promise<void>, body: (a: Store, b: Store) => Promise<void>): Promise<void> {
  const database: TestDatabase = await createTestDatabase('postgres');
  const a = await database.open();
  let b: Store | undefined;
  try {
    await setup(a);
    b = await database.open();
    await body(a, b);
  } finally {
    await Promise.allSettled([a.close(), b?.close()]);
    await database.drop();
  }
}

const bounded = <T>(p: Promise<T>, ms: number, what: string) => Promise.race([
  p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms (deadlock?)`)), ms).unref()),
]);

async function readModels(store: Store): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of REBUILT_TABLES) out[table] = (await store.db.selectFrom(table).selectAll().execute()).map((r) => JSON.stringify(r)).sort();
  return out;
}

test('two stores on one PostgreSQL database append at once: one gap-free seq per user, each event once per recipient, resends stored once, no deadlock', { skip, timeout: 120_000 }, async () => {
  const setup = async (a: Store) => {
    await a.log.append({ kind: 'group_created', sender: 'u0', groupId: GROUP, name: 'Team', members: STABLE.slice(1) });
  };
  await withTwoStores(setup, async (a, b) => {
    const random = seededRandom(4242);

    const results: Array<{ store: 'a' | 'b'; draft: EventDraft; result: AppendResult }> = [];
    const refused: string[] = [];
    const run = (store: Store, name: 'a' | 'b', draft: EventDraft) => store.log.append(draft).then(
      (result) => { results.push({ store: name, draft, result }); },
      (error: unknown) => { refused.push(`${name}: ${draft.kind} ${'clientMsgId' in draft ? draft.clientMsgId : ''} ${(error as Error).message}`); },
    );
    const load = (store: Store, name: 'a' | 'b') => {
      const work: Promise<void>[] = [];
      for (let i = 0; i < 300; i++) {
        const roll = random();
        const sender = USERS[Math.floor(random() * USERS.length)]!;
        if (roll < 0.6) {
          const others = USERS.filter((u) => u !== sender);
          work.push(run(store, name, peer(sender, others[Math.floor(random() * others.length)]!, `${name}-p${i}`)));
        } else {
          work.push(run(store, name, toGroup(STABLE[Math.floor(random() * 3)]!, `${name}-g${i}`)));
        }
      }
      // The same client message ids from both processes: each stored once.
      for (let k = 0; k < 20; k++) work.push(run(store, name, peer('u8', 'u9', `twice-${k}`)));
      return work;
    };
    const churn = async () => {
      for (let i = 0; i < 10; i++) {
        await run(a, 'a', { kind: 'member_joined', sender: CHURN, groupId: GROUP, user: CHURN });
        await run(a, 'a', toGroup(CHURN, `churn-${i}`));
        await run(a, 'a', { kind: 'member_left', sender: CHURN, groupId: GROUP, user: CHURN });
      }
    };
    await bounded(Promise.all([...load(a, 'a'), ...load(b, 'b'), churn()]), 60_000, 'concurrent appends from two stores');
    await Promise.all([a.log.flush(), b.log.flush()]);
    assert.deepEqual(refused, [], 'no append was refused');

    // Seqs: gap-free and unique per user; event ids follow seqs; user_heads equals the newest seq.
    // Read as the stores read (a run of a group's events is one row: compact-inbox.ts).
    const reads = new SqlLogReads(a.db, POSTGRES);
    const byUser = new Map<string, Array<{ seq: number; event_id: number }>>();
    for (const [user, head] of await reads.inboxHeads(USERS)) {
      if (head > 0) byUser.set(user, (await reads.readInbox(user, 0, head, 100_000)).map((e) => ({ seq: e.seq, event_id: e.event.eventId })));
    }
    const inbox = [...byUser].flatMap(([user, rows]) => rows.map((r) => ({ user_id: user, ...r })));
    const stored = Number((await a.db.selectFrom('inbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    assert.ok(stored < inbox.length, `runs share rows: ${stored} rows for ${inbox.length} entries`);
    for (const [user, rows] of byUser) {
      assert.deepEqual(rows.map((r) => r.seq), rows.map((_, i) => i + 1), `${user}: seqs are 1..n`);
      assert.equal(new Set(rows.map((r) => r.event_id)).size, rows.length, `${user}: no event twice`);
      assert.ok(rows.every((r, i) => i === 0 || r.event_id > rows[i - 1]!.event_id), `${user}: event ids follow seqs`);
    }
    // A head is stored as of its user's newest row and read through its open run (postgres-writer.ts).
    const { rows: heads } = await sql<{ user_id: string; head: number }>`SELECT h.user_id, h.head + coalesce((SELECT max(e.conv_ord) FROM events e WHERE e.conversation = h.run_conversation) - h.run_last_ord, 0) AS head
      FROM user_heads h WHERE h.head > 0`.execute(a.db);
    assert.deepEqual(new Map(heads.map((h) => [h.user_id, h.head])), new Map([...byUser].map(([user, rows]) => [user, rows.length])));

    // Every appended event is in each of its recipients' inboxes once, at the seq it was answered with.
    const at = new Map(inbox.map((r) => [`${r.user_id}/${r.seq}`, r.event_id]));
    for (const { result } of results) {
      for (const [user, seq] of result.seqs) {
        if (result.duplicate && user !== result.event.sender) continue;
        assert.equal(at.get(`${user}/${seq}`), result.event.eventId, `${user} seq ${seq} holds event ${result.event.eventId}`);
      }
    }
    // Each group message reached exactly the members of its place in the log (churn included).
    for (const { draft, result } of results) {
      if (draft.kind !== 'message' || draft.group === undefined || result.duplicate) continue;
      const recipients = [...result.seqs.keys()];
      for (const member of STABLE) assert.ok(recipients.includes(member), `${draft.clientMsgId} reached ${member}`);
    }

    // Resends from both stores: stored once, both answered with the same event.
    for (let k = 0; k < 20; k++) {
      const twins = results.filter((r) => r.draft.kind === 'message' && r.draft.clientMsgId === `twice-${k}`);
      assert.equal(twins.length, 2);
      assert.equal(twins[0]!.result.event.eventId, twins[1]!.result.event.eventId, `twice-${k}: one event`);
      assert.deepEqual(twins.map((t) => t.result.duplicate).sort(), [false, true]);
    }
    const twice = await a.db.selectFrom('events').select('client_msg_id').where('client_msg_id', 'like', 'twice-%').execute();
    assert.equal(twice.length, 20);

    // The log, replayed in id order, gives the read models the two writers produced (LOG-4).
    const live = await readModels(a);
    await a.rebuild();
    assert.deepEqual(await readModels(a), live, 'the concurrent history is the log order');
  });
});

test('membership changed through one store is honoured by the other (its planner had not heard of it)', { skip, timeout: 60_000 }, async () => {
  const setup = async (a: Store) => {
    await a.log.append({ kind: 'group_created', sender: 'alice', groupId: 'g1', name: 'One', members: ['bob', 'carol'] });
    await a.log.append(toGroupOf('carol', 'g1', 'before-leave'));
  };
  await withTwoStores(setup, async (a, b) => {
    assert.deepEqual(b.readModels.groupMembers('g1'), ['alice', 'bob', 'carol']);
    // Through A: carol leaves, dave joins.
    await a.log.append({ kind: 'member_left', sender: 'carol', groupId: 'g1', user: 'carol' });
    await a.log.append({ kind: 'member_joined', sender: 'dave', groupId: 'g1', user: 'dave' });

    // B's planner still has carol as a member; the database does not.
    const before = (await b.db.selectFrom('events').select('id').execute()).length;
    // Sent twice at once (one batch): the twin gets the same refusal; a resend of what carol sent
    // before leaving, in that batch too, is still its original (LOG-2).
    const [first, twin, resend] = await Promise.allSettled([
      b.log.append(toGroupOf('carol', 'g1', 'after-leave')), b.log.append(toGroupOf('carol', 'g1', 'after-leave')),
      b.log.append(toGroupOf('carol', 'g1', 'before-leave')),
    ]);
    for (const outcome of [first, twin]) {
      assert.ok(outcome?.status === 'rejected' && outcome.reason instanceof ProtocolError && outcome.reason.code === 'not_group_member',
        `B refuses the removed member: ${outcome?.status === 'rejected' ? String(outcome.reason) : 'accepted'}`);
    }
    assert.ok(resend?.status === 'fulfilled' && resend.value.duplicate, 'the resend is the original');
    assert.equal((await b.db.selectFrom('events').select('id').execute()).length, before, 'nothing stored');
    // The refusal reloaded B's planner (once its batch is finished): it knows the group as the database has it now.
    await b.log.flush();
    assert.deepEqual(b.readModels.groupMembers('g1'), ['alice', 'bob', 'dave']);

    // And B's group message reaches the member A added.
    const sent = await b.log.append(toGroupOf('bob', 'g1', 'hello'));
    assert.deepEqual([...sent.seqs.keys()].sort(), ['alice', 'bob', 'dave']);
    const found = await new SqlLogReads(a.db, POSTGRES).recipientsAmong(sent.event, ['alice', 'bob', 'carol', 'dave', 'erin']);
    assert.deepEqual([...found.keys()].sort(), ['alice', 'bob', 'dave'], 'in the inboxes of those three, as A reads them');

    // A member A adds after B's reload: B's planner does not know them, the database decides who receives.
    await a.log.append({ kind: 'member_joined', sender: 'erin', groupId: 'g1', user: 'erin' });
    const later = await b.log.append(toGroupOf('alice', 'g1', 'later'));
    assert.deepEqual([...later.seqs.keys()].sort(), ['alice', 'bob', 'dave', 'erin']);
  });
});

function toGroupOf(sender: string, groupId: string, clientMsgId: string): EventDraft {
  return { kind: 'message', sender, group: groupId, conversation: groupConversation(groupId), clientMsgId, data: { to: { group: groupId }, content: { type: 'text', text: clientMsgId } } };
}
