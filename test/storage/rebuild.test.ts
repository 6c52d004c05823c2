import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { openSqliteDatabase } from '../../storage/sqlite/sqlite-database.ts';
import { REBUILT_TABLES } from '../../storage/sql/rebuild.ts';
import { seededRandom } from '../helpers/random.ts';
import { startTestServer, TEST_SECRET } from '../helpers/server.ts';

const run = promisify(execFile);

async function snapshot(file: string): Promise<Record<string, unknown[]>> {
  const { db, close } = await openSqliteDatabase({ dialect: 'sqlite', file, synchronous: 'NORMAL', cacheSizeMb: 8 });
  const out: Record<string, unknown[]> = {};
  for (const table of REBUILT_TABLES) {
    out[table] = await db.selectFrom(table).selectAll().orderBy(table === 'groups' ? 'group_id' : table === 'calls' ? 'call_id' : 'user_id' as never).execute()
      .then((rows) => rows.map((r) => JSON.stringify(r)).sort());
  }
  await close();
  return out;
}

test('LOG-4: `tidings rebuild` recomputes read models equal to the live ones', async () => {
  const t = await startTestServer({ limits: { framesPerSecond: 10000, frameBurst: 10000 } });
  const file = join(t.dataDir, 'tidings.db');
  const random = seededRandom(99);
  const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
  const clients = await Promise.all(users.map((u) => t.connect(u)));
  await clients[0]!.expect({ type: 'group_create', groupId: 'g1', name: 'one', members: ['u1', 'u2', 'u3'], joinPolicy: 'open' }, 'group_created');
  await clients[4]!.expect({ type: 'group_create', groupId: 'g2', name: 'two', members: ['u5'], joinPolicy: 'open' }, 'group_created');
  const eventIds: number[] = [];
  const callIds: string[] = [];
  for (let i = 0; i < 300; i++) {
    const who = Math.floor(random() * users.length);
    const c = clients[who]!;
    const roll = random();
    let reply;
    if (roll < 0.5) reply = await c.sendText({ user: users[Math.floor(random() * users.length)]! }, `m${i}`, `m${i}`);
    else if (roll < 0.7) reply = await c.sendText({ group: random() < 0.5 ? 'g1' : 'g2' }, `g${i}`, `g${i}`);
    else if (roll < 0.75) reply = await c.request({ type: random() < 0.5 ? 'group_join' : 'group_leave', groupId: random() < 0.5 ? 'g1' : 'g2' });
    else if (roll < 0.8) {
      const invitees = users.filter(() => random() < 0.4);
      const created = await c.request({ type: 'call_invite', invitees: invitees.length ? invitees : ['u1'], timeoutSec: 60 });
      if (created.type === 'call_created') callIds.push(created.callId);
      const callId = callIds[Math.floor(random() * callIds.length)];
      if (callId) {
        const action = (['call_accept', 'call_reject', 'call_cancel', 'call_end'] as const)[Math.floor(random() * 4)]!;
        reply = await clients[Math.floor(random() * users.length)]!.request({ type: action, callId });
      }
    }
    else if (eventIds.length > 0) {
      const other = users[Math.floor(random() * users.length)]!;
      const conv = other === users[who] ? 'g:g1' : `p:${[users[who], other].sort().join(':')}`;
      reply = await c.request({ type: 'read', conversation: conv, upTo: eventIds[Math.floor(random() * eventIds.length)]! });
    }
    if (reply && 'eventId' in reply && typeof reply.eventId === 'number') eventIds.push(reply.eventId);
  }
  await t.server.stop();
  const live = await snapshot(file);
  assert.ok((live.inbox?.length ?? 0) > 300, 'a real history was written');
  assert.ok((live.conversation_state ?? []).some((r) => JSON.parse(r as string).read_event_id > 0), 'some read cursors were set');
  assert.ok((live.calls ?? []).some((r) => JSON.parse(r as string).state !== 'ringing'), 'some calls changed state');
  const { stdout } = await run(process.execPath, ['bin/tidings.mjs', 'rebuild', '--data-dir', t.dataDir], {
    env: { ...process.env, TIDINGS_AUTH_SECRETS: TEST_SECRET },
  });
  assert.match(stdout, /rebuilt read models .* from \d+ events/);
  const rebuilt = await snapshot(file);
  for (const table of REBUILT_TABLES) assert.deepEqual(rebuilt[table], live[table], `table ${table} differs after rebuild`);
  rmSync(t.dataDir, { recursive: true, force: true });
});
