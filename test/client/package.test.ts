import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer } from '../helpers/server.ts';
import { ensureClientBuilt, repo } from './build.ts';

// The published package is self-contained: built, packed with `npm pack`, unpacked into a
// consumer's node_modules (its dependencies linked from ours, so nothing is downloaded), it
// type-checks with the consumer's own tsc settings and runs in Node with `ws` injected.

test('npm pack → a consumer type-checks against the tarball and talks to a real server', { timeout: 120_000 }, async () => {
  ensureClientBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'tidings-consumer-'));
  try {
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: join(repo, 'client'), stdio: ['ignore', 'ignore', 'inherit'] });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    const target = join(dir, 'node_modules/@tidings/client');
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['xzf', join(dir, tarball), '-C', target, '--strip-components=1']);
    for (const dep of ['@sinclair/typebox', 'ws', '@types/ws', '@types/node']) {
      mkdirSync(join(dir, 'node_modules', dep, '..'), { recursive: true });
      symlinkSync(join(repo, 'node_modules', dep), join(dir, 'node_modules', dep));
    }
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', lib: ['ES2022', 'DOM'], types: ['node'] },
      include: ['app.ts'],
    }));
    writeFileSync(join(dir, 'app.ts'), `
import WebSocket from 'ws';
import { TidingsClient, TidingsError, type MessageEvent, type SendResult } from '@tidings/client';
const [url, token] = process.argv.slice(2) as [string, string];
const client = new TidingsClient({ url, token, deviceId: 'consumer-1', platform: 'desktop', WebSocket });
client.on('message', (m: MessageEvent) => {
  if (m.content.type === 'text') console.log('got', m.content.text);
});
await client.connect();
const ack: SendResult = await client.sendText({ user: 'consumer' }, 'note to self');
const members: Promise<string[]> = client.groupMembers('nope');
await members.catch((e: unknown) => console.log('error', e instanceof TidingsError ? e.code : 'other'));
// @ts-expect-error: not a platform
void new TidingsClient({ url, token, deviceId: 'x', platform: 'toaster', WebSocket });
await new Promise((r) => setTimeout(r, 200));
console.log('acked', ack.seq, ack.duplicate);
await client.close();
`);
    // skipLibCheck stays off: the package's own .d.ts files are checked too.
    execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', dir], { stdio: 'inherit' });
    const server = await startTestServer();
    try {
      // Asynchronously: the server runs in this process and must keep answering.
      const { stdout: output } = await promisify(execFile)(process.execPath, [join(dir, 'out/app.js'), server.url, server.token('consumer')], { timeout: 30_000 });
      assert.deepEqual(output.trim().split('\n'), ['got note to self', 'error group_not_found', 'acked 1 false']);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
