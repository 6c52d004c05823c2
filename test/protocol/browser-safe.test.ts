import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const PROTOCOL = fileURLToPath(new URL('../../protocol/', import.meta.url));

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g)) out.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

/** The files a browser bundle of protocol/index.ts would contain, and the packages they pull in. */
function graph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.')) visit(join(dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

test('protocol/index.ts is browser-safe: it compiles no validators and needs nothing of Node', () => {
  const { files, packages } = graph(join(PROTOCOL, 'index.ts'));
  const shown = [...files].map((f) => relative(PROTOCOL, f)).sort();
  assert.ok(!shown.includes('validate.ts'), `the barrel must not pull in validate.ts: ${shown.join(', ')}`);
  for (const f of shown) assert.ok(!f.startsWith('..'), `protocol imports outside protocol/: ${f}`);
  // Only TypeBox's schema builder: not its compiler (new Function) nor its value module.
  assert.deepEqual([...packages].sort(), ['@sinclair/typebox']);
});

test('the validators stay one import away (protocol/validate.ts) and agree with the barrel', async () => {
  const [barrel, validate] = await Promise.all([import('../../protocol/index.ts'), import('../../protocol/validate.ts')]);
  assert.ok(barrel.CLIENT_FRAME_TYPES.includes('send'));
  for (const type of barrel.CLIENT_FRAME_TYPES) {
    assert.throws(() => validate.parseClientFrame(JSON.stringify({ type, unexpected: true })), (e: unknown) => e instanceof barrel.ProtocolError);
  }
});
