// DEV-4..6 for every vendor beyond APNs/FCM: a device that switched user, unregistered, logged out
// or was kicked never gets a push meant for the old user (real server, sockets and fakes).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { OEM_VENDORS, registerOem, startOemPushEnv, type OemPushEnv } from '../helpers/oem-push-env.ts';
import { pushOutcomes, pushTestConfig, settlePush, startPushEnv, waitForPushes, type PushEnv } from '../helpers/push-env.ts';
import { sleep, startTestServer, type TestServer } from '../helpers/server.ts';

let base: PushEnv;
let oem: OemPushEnv;
let t: TestServer;

before(async () => {
  [base, oem] = await Promise.all([startPushEnv(), startOemPushEnv()]);
  // One session per user on phones and browsers, so DEV-6 (kicked by the newer device) applies.
  t = await startTestServer({ push: pushTestConfig(base, { credentials: { ...base.credentials, ...oem.credentials } }), sessions: { android: 'single', web: 'single' } });
});
after(async () => {
  await t.stop();
  await Promise.all([base.close(), oem.close()]);
});

for (const name of OEM_VENDORS) {
  describe(`${name}: logout and user-switch rules`, () => {
    const v = () => oem.vendors[name];

    test(`${name} DEV-4: a device that switches from A to B never gets A's pushes`, async () => {
      const token = v().newToken('switch');
      const [a, b] = [`${name}-userA`, `${name}-userB`];
      const device = `${name}-device-x`;
      const alice = await t.connect(`${name}-alice`);
      const x1 = await t.connect(a, device, v().platform);
      await registerOem(x1, v(), token);
      await x1.expect({ type: 'logout' }, 'logged_out');
      const whileOut = await alice.sendText({ user: a }, 'to A while logged out', 's1');
      assert.deepEqual(await pushOutcomes(t, whileOut, a), ['suppressed:no_binding']);
      const x2 = await t.connect(b, device, v().platform);
      await registerOem(x2, v(), token);
      await x2.close();
      await t.server.ctx.push.service.settled();
      await alice.sendText({ user: a }, 'to A after the switch', 's2');
      await alice.sendText({ user: b }, 'to B', 's3');
      const [push] = await waitForPushes(() => v().pushesTo(token), 1);
      assert.equal(push!.data.receiver, b);
      await settlePush(t);
      await sleep(100);
      assert.equal(v().pushesTo(token).length, 1, "A's messages never reach the device");
    });

    test(`${name} DEV-5: after unregister nothing is pushed to the device`, async () => {
      const token = v().newToken('unregister');
      const user = `${name}-unreg`;
      const bob = await t.connect(user, `${user}-dev`, v().platform);
      await registerOem(bob, v(), token);
      await bob.expect({ type: 'push_unregister', provider: name }, 'ok');
      await bob.close();
      const alice = await t.connect(`${name}-alice`);
      const ack = await alice.sendText({ user }, 'hello?', 'u1');
      assert.deepEqual(await pushOutcomes(t, ack, user), ['suppressed:no_binding']);
      assert.equal(v().pushesTo(token).length, 0);
    });

    test(`${name}: after logout nothing is pushed to the device`, async () => {
      const token = v().newToken('logout');
      const user = `${name}-logout`;
      const bob = await t.connect(user, `${user}-dev`, v().platform);
      await registerOem(bob, v(), token);
      await bob.expect({ type: 'logout' }, 'logged_out');
      const alice = await t.connect(`${name}-alice`);
      const ack = await alice.sendText({ user }, 'are you there?', 'l1');
      assert.deepEqual(await pushOutcomes(t, ack, user), ['suppressed:no_binding']);
      assert.equal(v().pushesTo(token).length, 0);
    });

    test(`${name} DEV-6: a device kicked by the single-device policy gets no push`, async () => {
      const oldToken = v().newToken('kicked');
      const newToken = v().newToken('kicker');
      const user = `${name}-kick`;
      const oldDevice = await t.connect(user, `${user}-old`, v().platform);
      await registerOem(oldDevice, v(), oldToken);
      const newDevice = await t.connect(user, `${user}-new`, v().platform);
      await registerOem(newDevice, v(), newToken);
      await oldDevice.closed;
      await newDevice.close();
      await t.server.ctx.push.service.settled();
      const alice = await t.connect(`${name}-alice`);
      await alice.sendText({ user }, 'which device?', 'k1');
      await waitForPushes(() => v().pushesTo(newToken), 1);
      await settlePush(t);
      await sleep(100);
      assert.equal(v().pushesTo(oldToken).length, 0, 'the kicked device is silent');
    });
  });
}
