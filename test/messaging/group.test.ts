import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.ts';

test('MSG-2/LOG-3: a group message reaches every member exactly once, in one order', async () => {
  const t = await startTestServer();
  try {
    const names = ['alice', 'bob', 'carol', 'dave', 'erin'];
    const clients = await Promise.all(names.map((n) => t.connect(n)));
    await Promise.all(clients.map((c) => c.sync()));
    const [alice, bob] = clients as [typeof clients[0], typeof clients[0]];
    const created = await alice.expect({ type: 'group_create', groupId: 'team', name: 'Team', members: names.slice(1) }, 'group_created');
    assert.equal(created.groupId, 'team');
    // Two members send concurrently; every member must see the same interleaving.
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => alice.sendText({ group: 'team' }, `a${i}`, `a${i}`)),
      ...Array.from({ length: 10 }, (_, i) => bob.sendText({ group: 'team' }, `b${i}`, `b${i}`)),
    ]);
    const orders = await Promise.all(clients.map(async (c) => {
      await c.waitForEvents(21);
      await new Promise((r) => setTimeout(r, 50));
      const messages = c.events.filter((e) => e.kind === 'message');
      assert.equal(messages.length, 20, 'exactly once each');
      return messages.map((e) => e.eventId);
    }));
    for (const order of orders) assert.deepEqual(order, orders[0]);
    assert.deepEqual(orders[0], [...orders[0]!].sort((a, b) => a - b), 'in log order');
    const members = await bob.expect({ type: 'group_members', groupId: 'team' }, 'group_members_list');
    assert.deepEqual(members.members, [...names].sort());
  } finally {
    await t.stop();
  }
});

test('AUTH-3: sending to a group you are not in (or left) is refused and stores nothing', async () => {
  const t = await startTestServer();
  try {
    const alice = await t.connect('alice');
    const mallory = await t.connect('mallory');
    const bob = await t.connect('bob');
    await bob.sync();
    await alice.expect({ type: 'group_create', groupId: 'g1', name: 'G', members: ['bob'] }, 'group_created');
    const refused = await mallory.sendText({ group: 'g1' }, 'let me in', 'm1');
    assert.equal(refused.type === 'error' && refused.code, 'not_group_member');
    const listRefused = await mallory.request({ type: 'group_members', groupId: 'g1' });
    assert.equal(listRefused.type === 'error' && listRefused.code, 'not_group_member');
    const missing = await mallory.sendText({ group: 'nope' }, 'x', 'm2');
    assert.equal(missing.type === 'error' && missing.code, 'group_not_found');
    await bob.expect({ type: 'group_leave', groupId: 'g1' }, 'ok');
    const afterLeave = await bob.sendText({ group: 'g1' }, 'still here?', 'b1');
    assert.equal(afterLeave.type === 'error' && afterLeave.code, 'not_group_member');
    const count = await t.server.ctx.store.db.selectFrom('events').select('id').where('kind', '=', 'message').execute();
    assert.equal(count.length, 0);
    // Bob saw the group's creation and his own leave, and nothing after.
    await alice.sendText({ group: 'g1' }, 'bob is gone', 'a1');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(bob.events.map((e) => e.kind), ['group_created', 'member_left']);
  } finally {
    await t.stop();
  }
});

test('LIM-1: a group larger than maxGroupMembers is refused with group_full', async () => {
  const t = await startTestServer({ limits: { maxGroupMembers: 3 } });
  try {
    const alice = await t.connect('alice');
    const reply = await alice.request({ type: 'group_create', name: 'big', members: ['b', 'c', 'd'] });
    assert.equal(reply.type === 'error' && reply.code, 'group_full');
    await alice.expect({ type: 'group_create', groupId: 'small', name: 'ok', members: ['b', 'c'], joinPolicy: 'open' }, 'group_created');
    const dave = await t.connect('dave');
    const join = await dave.request({ type: 'group_join', groupId: 'small' });
    assert.equal(join.type === 'error' && join.code, 'group_full');
  } finally {
    await t.stop();
  }
});
