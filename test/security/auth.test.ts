/**
 * Issue 7, authentication: HMAC login tokens with expiry and clock-skew tolerance, identity
 * binding (a token for A only ever acts as A), app-secret rotation and the admin API's own
 * secret. Constant-time comparisons are asserted by review in docs/SECURITY.md, not by timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { Command } from 'commander';
import { ProtocolError } from '../../protocol/index.ts';
import { tokenCommand } from '../../server/cli/token.ts';
import { mintToken, verifyToken } from '../../server/auth/tokens.ts';
import { TestClient } from '../helpers/client.ts';
import { ADMIN_SECRET, eventually, startTestServer, TEST_SECRET } from '../helpers/server.ts';

const NEW_SECRET = 'new-app-secret-0123456789abcdef';
const OLD_SECRET = 'old-app-secret-0123456789abcdef';

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof ProtocolError, String(error));
    return error.code;
  }
}

/** A token signed like the server does, with arbitrary claims (for malformed-claim cases). */
function signClaims(secret: string, claims: unknown): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `v1.${body}.${createHmac('sha256', secret).update(`v1.${body}`).digest('base64url')}`;
}

async function loginCode(url: string, token: string, deviceId = 'dev'): Promise<string> {
  const c = await TestClient.connect(url);
  try {
    const reply = await c.request({ type: 'login', token, deviceId, platform: 'web' });
    assert.deepEqual(c.invalid, []);
    return reply.type === 'error' ? reply.code : reply.type;
  } finally {
    await c.close();
  }
}

test('tokens: expiry and issue time are checked with exactly auth.clockSkewSec of tolerance', () => {
  const skew = 60;
  const iat = 1_800_000_000;
  const token = mintToken(TEST_SECRET, 'alice', 3600, iat * 1000);
  const exp = iat + 3600;
  const at = (sec: number) => codeOf(() => verifyToken(token, [TEST_SECRET], skew, sec * 1000));
  assert.equal(at(iat), 'ok');
  assert.equal(at(exp), 'ok');
  assert.equal(at(exp + skew), 'ok', 'expired by exactly the skew still works');
  assert.equal(at(exp + skew + 0.001), 'token_expired', 'one millisecond beyond the skew is expired');
  assert.equal(at(exp + 10 * skew), 'token_expired');
  assert.equal(at(iat - skew), 'ok', 'issued up to the skew in the future works');
  assert.equal(at(iat - skew - 0.001), 'token_invalid', 'issued further in the future is refused');
  assert.equal(codeOf(() => verifyToken(token, [TEST_SECRET], 0, (exp + 1) * 1000)), 'token_expired', 'skew 0 is strict');
});

test('tokens: forged, tampered, re-encoded and malformed tokens are token_invalid (never a crash)', () => {
  const now = Date.now();
  const good = mintToken(TEST_SECRET, 'alice', 3600, now);
  const [prefix, body, sig] = good.split('.') as [string, string, string];
  const verify = (token: string) => codeOf(() => verifyToken(token, [TEST_SECRET], 60, now));
  assert.equal(verify(good), 'ok');
  const cases: Record<string, string> = {
    'other secret': mintToken('some-other-secret-0123456789', 'alice', 3600, now),
    'body swapped': `${prefix}.${Buffer.from(JSON.stringify({ sub: 'bob', iat: now / 1000, exp: now / 1000 + 3600 })).toString('base64url')}.${sig}`,
    'v2 prefix': `v2.${body}.${sig}`,
    'no signature': `${prefix}.${body}.`,
    'four parts': `${good}.x`,
    'empty': '',
    // Buffer's base64url decoder is lenient: these decode to the same 32 bytes and were accepted before.
    'padded signature': `${good}=`,
    'standard base64 alphabet': `${prefix}.${body}.${sig.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(sig) ? '' : '='}`,
    'junk in signature': `${prefix}.${body}.${sig}!!`,
    'whitespace in signature': `${prefix}.${body}.${sig.slice(0, 10)} ${sig.slice(10)}`,
    'truncated signature': `${prefix}.${body}.${sig.slice(0, -1)}`,
    // Signed with the right secret but with bad claims.
    'null body': signClaims(TEST_SECRET, null),
    'array body': signClaims(TEST_SECRET, ['alice']),
    'sub with a colon': signClaims(TEST_SECRET, { sub: 'p:alice', iat: now / 1000, exp: now / 1000 + 60 }),
    'sub too long': signClaims(TEST_SECRET, { sub: 'a'.repeat(65), iat: now / 1000, exp: now / 1000 + 60 }),
    'exp as string': signClaims(TEST_SECRET, { sub: 'alice', iat: now / 1000, exp: String(now / 1000 + 60) }),
    'no iat': signClaims(TEST_SECRET, { sub: 'alice', exp: now / 1000 + 60 }),
  };
  for (const [name, token] of Object.entries(cases)) assert.equal(verify(token), 'token_invalid', name);
  // `1e999` in the JSON body is Infinity: a never-expiring token is bad claims, not valid forever.
  const forever = `v1.${Buffer.from(`{"sub":"alice","iat":${Math.floor(now / 1000)},"exp":1e999}`).toString('base64url')}`;
  const foreverToken = `${forever}.${createHmac('sha256', TEST_SECRET).update(forever).digest('base64url')}`;
  assert.equal(verify(foreverToken), 'token_invalid', 'exp: Infinity');
});

test('login: tokens expired by less than the skew still work, by more do not; future tokens beyond the skew are refused', async () => {
  const t = await startTestServer({ auth: { clockSkewSec: 60 } });
  try {
    const now = Date.now();
    // mintToken(secret, user, ttl, issuedAt): exp = iat + ttl.
    assert.equal(await loginCode(t.url, mintToken(TEST_SECRET, 'alice', 3600, now - 3630_000)), 'login_ok', 'expired 30 s ago');
    assert.equal(await loginCode(t.url, mintToken(TEST_SECRET, 'alice', 3600, now - 3690_000)), 'token_expired', 'expired 90 s ago');
    assert.equal(await loginCode(t.url, mintToken(TEST_SECRET, 'alice', 3600, now + 30_000)), 'login_ok', 'issued 30 s ahead');
    assert.equal(await loginCode(t.url, mintToken(TEST_SECRET, 'alice', 3600, now + 90_000)), 'token_invalid', 'issued 90 s ahead');
    assert.equal(await loginCode(t.url, `${t.token('alice')}=`), 'token_invalid', 'non-canonical signature');
  } finally {
    await t.stop();
  }
});

test('identity: a token for alice only ever acts as alice, whatever the frames claim', async () => {
  const t = await startTestServer();
  try {
    const bob = await t.connect('bob', 'bob-phone');
    await bob.sync();
    const alice = await TestClient.connect(t.url);
    // alice picks bob's device id: a device id is not an identity.
    const ok = await alice.login(t.token('alice'), 'bob-phone', 'ios');
    assert.equal(ok.userId, 'alice');
    assert.equal(ok.headSeq, 0, 'alice sees her own (empty) inbox head, not bob\'s');
    assert.equal(bob.closeCode, undefined, 'bob\'s session on "bob-phone" is not replaced by another user');
    assert.equal(t.server.ctx.hub.sessionsOf('bob').length, 1);

    // Frames cannot name a sender: extra identity fields are refused by the schema.
    for (const extra of [{ from: 'bob' }, { sender: 'bob' }, { userId: 'bob' }]) {
      const reply = await alice.request({ type: 'send', clientMsgId: `spoof-${Object.keys(extra)[0]}`, to: { user: 'carol' }, content: { type: 'text', text: 'x' }, ...extra } as never);
      assert.equal(reply.type === 'error' && reply.code, 'bad_frame');
    }
    // A second login with bob's token on the same connection is refused; the connection stays alice.
    const again = await alice.request({ type: 'login', token: t.token('bob'), deviceId: 'bob-phone', platform: 'ios' });
    assert.equal(again.type === 'error' && again.code, 'already_logged_in');
    const sent = await alice.sendText({ user: 'bob' }, 'from alice', 'a1');
    assert.equal(sent.type === 'send_ack' && sent.conversation, 'p:alice:bob');
    const [event] = await bob.waitForEvents(1);
    assert.equal(event!.kind, 'message');
    assert.equal(event!.from, 'alice');
    // Settings changed on this connection are alice's; bob's stay default.
    await alice.expect({ type: 'settings_update', displayName: 'Mallory pretending' }, 'settings');
    assert.equal((await t.server.ctx.store.settings.get('alice')).displayName, 'Mallory pretending');
    assert.equal((await t.server.ctx.store.settings.get('bob')).displayName, null);
    // The admin view agrees: the session on "bob-phone" owned by this connection is alice's.
    const sessions = await (await t.admin('/admin/sessions')).json() as { sessions: Array<{ userId: string; deviceId: string }> };
    assert.deepEqual(sessions.sessions.filter((s) => s.deviceId === 'bob-phone').map((s) => s.userId).sort(), ['alice', 'bob']);
    assert.deepEqual([...alice.invalid, ...bob.invalid], []);
  } finally {
    await t.stop();
  }
});

test('rotation: with auth.secrets [new, old] both verify and `tidings token` signs with new; dropping old refuses old tokens', async () => {
  const oldToken = mintToken(OLD_SECRET, 'alice', 3600);
  const newToken = mintToken(NEW_SECRET, 'alice', 3600);
  const both = await startTestServer({ auth: { secrets: [NEW_SECRET, OLD_SECRET] } });
  try {
    assert.equal(await loginCode(both.url, oldToken, 'd1'), 'login_ok');
    assert.equal(await loginCode(both.url, newToken, 'd2'), 'login_ok');
    assert.equal(await loginCode(both.url, mintToken(TEST_SECRET, 'alice', 3600), 'd3'), 'token_invalid');
  } finally {
    await both.stop();
  }

  // `tidings token` (its command, run in-process: spawning the CLI costs seconds) mints with the first secret.
  const dir = mkdtempSync(join(tmpdir(), 'tidings-rotation-'));
  try {
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ dataDir: dir, auth: { secrets: [NEW_SECRET, OLD_SECRET] } }));
    const program = new Command('tidings').exitOverride();
    tokenCommand(program);
    const printed: string[] = [];
    const write = process.stdout.write;
    // Only the token line is captured; anything else (the test reporter) passes through.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk === 'string' && chunk.startsWith('v1.')) {
        printed.push(chunk.trim());
        return true;
      }
      return (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['token', 'alice', '--ttl', '600', '--config', configFile], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    assert.equal(printed.length, 1);
    const claims = verifyToken(printed[0]!, [NEW_SECRET], 60);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.exp - claims.iat, 600);
    assert.equal(codeOf(() => verifyToken(printed[0]!, [OLD_SECRET], 60)), 'token_invalid', 'not signed with the old secret');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const onlyNew = await startTestServer({ auth: { secrets: [NEW_SECRET] } });
  try {
    assert.equal(await loginCode(onlyNew.url, oldToken, 'd1'), 'token_invalid', 'old tokens fail once the old secret is gone');
    assert.equal(await loginCode(onlyNew.url, newToken, 'd2'), 'login_ok');
  } finally {
    await onlyNew.stop();
  }
});

test('admin API: its own secret (401 without or with a wrong one, app secret included); 404 when admin.secret is unset', async () => {
  const t = await startTestServer();
  try {
    const routes = ['/admin/sessions', '/admin/pushes', '/admin/push-jobs', '/admin/trace', '/admin/no-such-route'];
    const get = (path: string, authorization?: string) =>
      fetch(`${t.httpUrl}${path}`, authorization === undefined ? {} : { headers: { authorization } });
    for (const path of routes) {
      assert.equal((await get(path)).status, 401, `${path} without a secret`);
      for (const wrong of [`Bearer ${TEST_SECRET}`, `Bearer ${ADMIN_SECRET.slice(0, -1)}`, `Bearer ${ADMIN_SECRET}x`, `bearer ${ADMIN_SECRET}`,
        ADMIN_SECRET, `Basic ${Buffer.from(`admin:${ADMIN_SECRET}`).toString('base64')}`, 'Bearer ', `Bearer  ${ADMIN_SECRET}`]) {
        const res = await get(path, wrong);
        assert.equal(res.status, 401, `${path} with ${JSON.stringify(wrong.slice(0, 12))}`);
        const text = await res.text();
        assert.ok(!text.includes(ADMIN_SECRET), 'the answer never echoes the secret');
      }
    }
    // The one state-changing admin route (sends a real push) is guarded the same way.
    const post = (authorization?: string) => fetch(`${t.httpUrl}/admin/push/test`, {
      method: 'POST', body: JSON.stringify({ userId: 'alice' }), headers: authorization ? { authorization } : {},
    });
    assert.equal((await post()).status, 401);
    assert.equal((await post(`Bearer ${TEST_SECRET}`)).status, 401);
    assert.equal((await post(`Bearer ${ADMIN_SECRET}`)).status, 404, 'with the secret: no registration for alice');
    assert.equal((await get('/admin/sessions', `Bearer ${ADMIN_SECRET}`)).status, 200);
    assert.equal((await get('/admin/no-such-route', `Bearer ${ADMIN_SECRET}`)).status, 404, 'routes are only revealed with the secret');
    // Health and metrics are public by design (see docs/SECURITY.md); nothing else is.
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/metrics')).status, 200);
  } finally {
    await t.stop();
  }

  const disabled = await startTestServer({ admin: { secret: undefined } });
  try {
    assert.equal(disabled.server.ctx.secrets.admin, undefined);
    for (const authorization of [undefined, `Bearer ${ADMIN_SECRET}`]) {
      const res = await fetch(`${disabled.httpUrl}/admin/sessions`, authorization ? { headers: { authorization } } : {});
      assert.equal(res.status, 404, 'the whole admin API is off without admin.secret');
    }
    // The app secret never doubles as the admin secret.
    assert.equal((await fetch(`${disabled.httpUrl}/admin/sessions`, { headers: { authorization: `Bearer ${TEST_SECRET}` } })).status, 404);
    await eventually(() => disabled.server.ctx.hub.size() === 0);
  } finally {
    await disabled.stop();
  }
});
