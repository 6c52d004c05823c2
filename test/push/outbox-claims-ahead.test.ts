import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apnsTo, apnsToken, pushTestConfig, registerApns, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

let env: PushEnv;
before(async () => { env = await startPushEnv(); });
after(async () => { await env.close(); });

const CONCURRENCY = 2;

/**
 * OPS-3: the dispatcher claims up to one round of jobs beyond its free vendor slots, so a slot
 * that frees does not wait for a claim's commit; those jobs are `sending` under the lease, never
 * more than twice the concurrency, and a stop hands the unstarted ones back to the queue.
 */
test('OPS-3: jobs are claimed one round ahead of the vendor slots, and a stop returns the unstarted ones', async () => {
  const t = await startTestServer({ push: pushTestConfig(env, { concurrency: CONCURRENCY }) });
  try {
    env.apnsDev.control.latencyMs = 400;
    const token = apnsToken(0xa11ead);
    const bob = await t.connect('bob', 'bob-iphone');
    await registerApns(bob, token);
    await bob.close();
    const alice = await t.connect('alice');
    for (let i = 0; i < 12; i++) assert.equal((await alice.sendText({ user: 'bob' }, `m${i}`, `c${i}`)).type, 'send_ack');
    const store = t.server.ctx.store.push;
    const sending = async () => (await store.jobs({ userId: 'bob', state: 'sending' }, 100)).length;
    let most = 0;
    await eventually(async () => {
      most = Math.max(most, await sending());
      return most === 2 * CONCURRENCY;
    }, 5000, 'a round claimed ahead');
    // Two at the vendor (400 ms each) and two waiting for them: the rest stays pending.
    assert.ok((await store.jobs({ userId: 'bob', state: 'pending' }, 100)).length > 0);
    await waitForPushes(() => apnsTo(env.apnsDev, token), 2, 5000);
    assert.ok(most <= 2 * CONCURRENCY);
    await t.server.ctx.push.service.stop();
    assert.equal(await sending(), 0, 'no job left claimed by a stopped dispatcher');
    const jobs = await store.jobs({ userId: 'bob' }, 100);
    const delivered = jobs.filter((j) => j.state === 'delivered').length;
    assert.equal(delivered, apnsTo(env.apnsDev, token).length, 'every job the vendor got is delivered, and only those');
    assert.equal(jobs.filter((j) => j.state === 'pending').length, 12 - delivered);
  } finally {
    env.apnsDev.control.reset();
    await t.stop();
  }
});
