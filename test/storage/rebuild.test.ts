import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openStore } from '../../storage/index.ts';
import { REBUILT_TABLES } from '../../storage/sql/rebuild.ts';
import type { Config } from '../../server/config/schema.ts';
import { storageConfig } from '../../server/runtime-config.ts';
import { TEST_DIALECT } from '../helpers/dialects.ts';
import { seededRandom } from '../helpers/random.ts';
import { startTestServer, TEST_SECRET } from '../helpers/server.ts';

const run = promisify(execFile);

/** The read-model tables of the server's database (the SQLite file or its PostgreSQL database), as sorted JSON rows. */
async function snapshot(config: Config): Promise<Record<string, unknown[]>> {
  const store = await openStore(storageConfig(config, { cacheSizeMb: 8 }), { maxBatch: 1, maxGroupMembers: 1000, writer: 'inline' });
  const out: Record<string, unknown[]> = {};
  for (const table of REBUILT_TABLES) {
    out[table] = await store.db.selectFrom(table).selectAll().execute().then((rows) => rows.map((r) => JSON.stringify(r)).sort());
  }
  await store.close();
  return out;
}

test(`LOG-4: \`tidings rebuild\` recomputes read models equal to the live ones (${TEST_DIALECT})`, async () => {
  const t = await startTestServer({ limits: { framesPerSecond: 10000, frameBurst: 10000 } });
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
  const live = await snapshot(t.config);
  assert.ok((live.inbox?.length ?? 0) > 300, 'a real history was written');
  assert.ok((live.conversation_state ?? []).some((r) => JSON.parse(r as string).read_event_id > 0), 'some read cursors were set');
  assert.ok((live.calls ?? []).some((r) => JSON.parse(r as string).state !== 'ringing'), 'some calls changed state');
  const { stdout } = await run(process.execPath, ['bin/tidings.mjs', 'rebuild', '--data-dir', t.dataDir], {
    env: {
      ...process.env, TIDINGS_AUTH_SECRETS: TEST_SECRET, TIDINGS_STORAGE_DIALECT: t.config.storage.dialect,
      ...(t.config.storage.url ? { TIDINGS_STORAGE_URL: t.config.storage.url } : {}),
    },
  });
  assert.match(stdout, /rebuilt read models .* from \d+ events/);
  const rebuilt = await snapshot(t.config);
  for (const table of REBUILT_TABLES) assert.deepEqual(rebuilt[table], live[table], `table ${table} differs after rebuild`);
  await t.stop();
});
