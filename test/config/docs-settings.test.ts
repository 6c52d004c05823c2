/**
 * Settings and metrics named in the operator docs exist: every `section.key` in backticks that
 * names a config section is a setting of the schema, and every `tidings_…` metric is registered.
 * (The README's table is generated from the schema; this keeps the prose honest too.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configLeaves } from '../../server/config/schema.ts';
import { createMetrics } from '../../server/metrics.ts';

const DOCS = ['docs/DEPLOYMENT.md', 'docs/PUSH.md', 'docs/ARCHITECTURE.md', 'docs/SECURITY.md', 'docs/PERFORMANCE.md'];
const leaves = configLeaves();
const settings = new Set(leaves.map((l) => l.path));
const sections = new Set(leaves.map((l) => l.path.split('.')[0]!));
// Prefixes of settings that are maps or families (push.credentials.<name>.…, sessions.<platform>).
const families = ['push.credentials.', 'sessions.'];
// Frame fields that share a section's name: a message's push options (docs/PROTOCOL.md).
const FRAME_FIELDS = new Set(['push.force', 'push.title', 'push.content', 'push.noPush', 'push.payload', 'push.sound', 'push.custom',
  'push.mutableContent', 'push.resourcesId']);

test('every setting the operator docs name is in the config schema', () => {
  const unknown: string[] = [];
  for (const file of DOCS) {
    const text = readFileSync(file, 'utf8');
    for (const [, name] of text.matchAll(/`([a-z]+(?:\.[A-Za-z<>]+)+)`/g)) {
      const path = name!;
      if (!sections.has(path.split('.')[0]!) || families.some((f) => path.startsWith(f)) || path.includes('<') || FRAME_FIELDS.has(path) || /\.(ts|mjs|md|json)$/.test(path)) continue;
      if (!settings.has(path) && !leaves.some((l) => l.path.startsWith(`${path}.`))) unknown.push(`${file}: \`${path}\``);
    }
  }
  assert.deepEqual(unknown, [], 'not settings');
});

test('every tidings_ metric the docs name is registered', async () => {
  const names = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name));
  for (const file of [...DOCS, 'README.md']) {
    for (const [, name] of readFileSync(file, 'utf8').matchAll(/\b(tidings_[a-z_]*[a-z])\b(?!\*)/g)) {
      const base = name!.replace(/_(bucket|sum|count)$/, '');
      assert.ok(names.has(base) || names.has(base.replace(/_total$/, '')), `${file}: metric ${name} is not registered`);
    }
  }
});
