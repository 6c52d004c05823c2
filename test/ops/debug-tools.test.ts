import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { apnsTo, apnsToken, pushTestConfig, registerApns, settlePush, startPushEnv, type PushEnv } from '../helpers/push-env.ts';
import { startTestServer, TEST_SECRET } from '../helpers/server.ts';

const run = promisify(execFile);
let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

test('OPS-1: POST /admin/push/test sends through the real provider and returns the vendor\'s answer', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const good = apnsToken(0x7e57);
    const dead = apnsToken(0xdead7);
    env.apnsDev.control.deadTokens.add(dead);
    const phone = await t.connect('bob', 'bob-iphone');
    await registerApns(phone, good);
    const old = await t.connect('bob', 'bob-old-ipad');
    await registerApns(old, dead);
    const res = await t.admin('/admin/push/test', { method: 'POST', body: JSON.stringify({ userId: 'bob', title: 'Hello', body: 'from ops' }) });
    assert.equal(res.status, 200);
    const { results } = await res.json() as { results: Array<{ deviceId: string; outcome: { status: string; vendorId?: string; reason?: string } }> };
    const byDevice = Object.fromEntries(results.map((r) => [r.deviceId, r.outcome]));
    assert.equal(byDevice['bob-iphone']!.status, 'delivered');
    assert.equal(byDevice['bob-iphone']!.vendorId, apnsTo(env.apnsDev, good)[0]!.apnsId);
    assert.equal(byDevice['bob-old-ipad']!.status, 'dead_token');
    assert.deepEqual((apnsTo(env.apnsDev, good)[0]!.payload as { aps: { alert: unknown } }).aps.alert, { title: 'Hello', body: 'from ops' });
    const missing = await t.admin('/admin/push/test', { method: 'POST', body: JSON.stringify({ userId: 'nobody' }) });
    assert.equal(missing.status, 404);
  } finally {
    env.apnsDev.control.reset();
    await t.stop();
  }
});

test('OPS-2: `tidings why <messageId>` prints each recipient device and the rule that decided', async () => {
  const t = await startTestServer({ push: pushTestConfig(env) });
  try {
    const alice = await t.connect('alice');
    await alice.expect({ type: 'group_create', groupId: 'g', name: 'g', members: ['bob', 'carol', 'dave'] }, 'group_created');
    const bob = await t.connect('bob', 'bob-iphone');
    await registerApns(bob, apnsToken(0x3a1));
    await bob.expect({ type: 'mute', to: { group: 'g' }, muted: true }, 'settings');
    await bob.close();
    const carol = await t.connect('carol', 'carol-iphone');
    await registerApns(carol, apnsToken(0x3a2));
    await carol.close();
    await settlePush(t);
    const ack = await alice.sendText({ group: 'g' }, 'hello all', 'c1');
    assert.equal(ack.type, 'send_ack');
    await settlePush(t);
    const messageId = ack.type === 'send_ack' ? ack.messageId : '';
    await t.server.stop();
    const { stdout } = await run(process.execPath, ['bin/tidings.mjs', 'why', messageId, '--data-dir', t.dataDir], {
      env: { ...process.env, TIDINGS_AUTH_SECRETS: TEST_SECRET },
    });
    assert.match(stdout, new RegExp(`message ${messageId} \\(event \\d+\\) from alice in g:g`));
    assert.match(stdout, /alice\n\s+\(no device\): suppressed:own_message/);
    assert.match(stdout, /carol\n\s+carol-iphone \[pid_[\w-]+\]: pushed:delivered/);
    assert.match(stdout, /dave\n\s+\(no device\): suppressed:no_binding/);
    const { stdout: onlyBob } = await run(process.execPath, ['bin/tidings.mjs', 'why', messageId, '--user', 'bob', '--json', '--data-dir', t.dataDir], {
      env: { ...process.env, TIDINGS_AUTH_SECRETS: TEST_SECRET },
    });
    const parsed = JSON.parse(onlyBob) as { recipients: Array<{ userId: string; devices: Array<{ outcome: string }> }> };
    assert.deepEqual(parsed.recipients.map((r) => [r.userId, r.devices.map((d) => d.outcome)]), [['bob', ['suppressed:muted']]]);
  } finally {
    await t.stop();
  }
});
