import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ADMIN_SECRET, eventually, startTestServer, type TestServer } from '../helpers/server.ts';
import { ensureClientBuilt, repo } from '../client/build.ts';
import { launchChromium } from './browser.ts';

// Two real browser pages on the demo (examples/browser-demo) and one on the push console, against
// a real server with the push sandbox: chat, one page goes offline (its socket closed, no logout),
// the push sandbox records the push for that device (MSG-1, MSG-4), the page comes back and shows
// the missed messages exactly once (SYNC-2), and the console shows the trace (OPS-1, OPS-2).
let server: TestServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
const shots = mkdtempSync(join(tmpdir(), 'tidings-shots-'));

before(async () => {
  ensureClientBuilt();
  server = await startTestServer();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function loggedIn(user: string): Promise<Page> {
  const page = await browser.context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(`${server.httpUrl}/demo/`);
  await page.fill('#admin-secret', ADMIN_SECRET);
  await page.fill('#user-id', user);
  await page.click('#login');
  await page.waitForSelector('#state.live');
  await page.waitForSelector('#push-token:has-text("demo-web-")');
  return page;
}

const texts = (page: Page) => page.$$eval('#messages li .text', (items) => items.map((li) => li.textContent!.trim()));
const shot = (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`) });

async function openPeer(page: Page, user: string): Promise<void> {
  await page.fill('#peer', user);
  await page.click('#open-peer button');
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill('#message-text', text);
  await page.click('#send');
}

test('two pages chat, one goes offline, gets pushed, comes back with every missed message once; the console traces it', { timeout: 90_000 }, async () => {
  const alice = await loggedIn('alice');
  const bob = await loggedIn('bob');

  // One-to-one: delivery states on the sender's side, the message on the receiver's.
  await openPeer(alice, 'bob');
  await openPeer(bob, 'alice');
  await send(alice, 'hi bob');
  await bob.waitForSelector('#messages li.theirs:has-text("hi bob")');
  await alice.waitForSelector('#messages li.mine[data-state="read"]', { timeout: 10_000 });
  await send(bob, 'hi alice');
  await alice.waitForSelector('#messages li.theirs:has-text("hi alice")');

  // A group: created on one page, it appears on the other with its messages.
  await alice.fill('#group-name', 'Team');
  await alice.fill('#group-members', 'bob');
  await alice.click('#create-group button');
  await alice.waitForSelector('#chat-title:has-text("#")');
  await send(alice, 'hello team');
  await bob.waitForSelector('#conversations li:has-text("#") .unread');
  await bob.click('#conversations li:has-text("#")');
  await bob.waitForSelector('#messages li.theirs:has-text("hello team")');
  await shot(bob, '1-chatting');

  // Bob goes offline: the socket closes, no logout; the server sees the device offline.
  await bob.click('#conversations li:has-text("alice")');
  await bob.uncheck('#online');
  await bob.waitForSelector('#state.idle');
  const bobDevice = await bob.evaluate(() => (window as unknown as { tidings: { deviceId: string } }).tidings.deviceId);
  await eventually(() => server.server.ctx.hub.sessionsOf('bob').length === 0, 5000, 'bob offline on the server');
  await alice.click('#conversations li:has-text("bob")');
  for (const text of ['missed 1', 'missed 2', 'missed 3']) await send(alice, text);
  await eventually(async () => (await alice.$$('#messages li.mine[data-state="acked"]')).length >= 3, 5000, 'acked while bob is away');
  await shot(alice, '2-sent-while-bob-offline');

  // The push sandbox recorded the push for bob's device; bob's page lists it.
  const pushes = await bob.waitForSelector('#pushes li', { timeout: 10_000 });
  assert.match((await pushes.textContent()) ?? '', /New message/);
  await shot(bob, '3-offline-push-recorded');

  // Back online: the missed messages arrive once each, after what was there.
  await bob.check('#online');
  await bob.waitForSelector('#state.live');
  await bob.waitForSelector('#messages li.theirs:has-text("missed 3")');
  await bob.waitForTimeout(300);
  assert.deepEqual(await texts(bob), ['hi bob', 'hi alice', 'missed 1', 'missed 2', 'missed 3']);
  const bobDemo = join(shots, '4-back-online.png');
  await bob.screenshot({ path: bobDemo });

  // The push console: bob's devices and registration, a test push with the vendor's answer,
  // and the decision trace of a missed message.
  const missed = await bob.$eval('#messages li.theirs:has-text("missed 1")', (li) => (li as HTMLElement).dataset.key!);
  const console = await browser.context.newPage();
  await console.goto(`${server.httpUrl}/console/`);
  await console.fill('#admin-secret', ADMIN_SECRET);
  await console.fill('#user', 'bob');
  await console.click('#lookup button[type="submit"]');
  await console.waitForSelector(`#registrations tr:has-text("${bobDevice}")`);
  await console.click('#registrations button');
  await console.waitForSelector('#test-results tr:has-text("delivered")');
  await console.fill('#message-id', missed);
  await console.click('#trace-form button');
  const traced = await console.waitForSelector(`#trace tr:has-text("${bobDevice}")`);
  const outcome = await traced.getAttribute('data-outcome');
  assert.match(outcome ?? '', /^(pushed:delivered|cancelled:collapsed)$/, `${bobDevice}'s outcome: ${outcome}`);
  assert.match((await traced.textContent()) ?? '', /queued:offline/);
  const consoleShot = join(shots, '5-console-trace.png');
  await console.screenshot({ path: consoleShot, fullPage: true });

  for (const page of [alice, bob]) assert.deepEqual((page as Page & { problems?: string[] }).problems, [], 'no page errors');
  if (process.env.UPDATE_SCREENSHOTS) {
    copyFileSync(bobDemo, join(repo, 'docs/images/browser-demo.png'));
  }
  process.stdout.write(`# screenshots in ${shots}\n`);
});
