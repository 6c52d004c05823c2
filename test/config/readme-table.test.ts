import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_TABLE_END, CONFIG_TABLE_START, renderConfigTable } from '../../server/config/config-table.ts';
import { configLeaves } from '../../server/config/schema.ts';

/**
 * The README's configuration table is generated from server/config/schema.ts; this keeps the
 * committed copy identical to what the generator prints, so a new or changed setting cannot be
 * left undocumented. Fix a failure with:
 *   node --import tsx server/config/config-table.ts --write
 */
const README_PATH = fileURLToPath(new URL('../../README.md', import.meta.url));
const readme = readFileSync(README_PATH, 'utf8');
const FIX = 'README.md config table is stale: run `node --import tsx server/config/config-table.ts --write`';

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

test('README.md has exactly one config-table block', () => {
  assert.equal(occurrences(readme, CONFIG_TABLE_START), 1, `README.md must contain ${CONFIG_TABLE_START} once`);
  assert.equal(occurrences(readme, CONFIG_TABLE_END), 1, `README.md must contain ${CONFIG_TABLE_END} once`);
  assert.ok(readme.indexOf(CONFIG_TABLE_START) < readme.indexOf(CONFIG_TABLE_END), 'the start marker must come before the end marker');
});

test('the README text between the markers equals renderConfigTable() exactly', () => {
  const between = readme.slice(readme.indexOf(CONFIG_TABLE_START) + CONFIG_TABLE_START.length, readme.indexOf(CONFIG_TABLE_END));
  // The markers sit on their own lines: one line break after the start, one before the end.
  assert.ok(between.startsWith('\n') && between.endsWith('\n'), 'the markers must be on lines of their own');
  assert.equal(between.slice(1, -1), renderConfigTable(), FIX);
});

test('the table has one row per config leaf, in schema order, with its env var and default', () => {
  const rows = renderConfigTable().split('\n').slice(2);
  const leaves = configLeaves();
  assert.equal(rows.length, leaves.length);
  leaves.forEach((leaf, i) => {
    const schema = leaf.schema as { default?: unknown };
    const fallback = 'default' in schema ? `\`${JSON.stringify(schema.default)}\``.replace(/\|/g, '\\|') : '—';
    assert.ok(rows[i]!.startsWith(`| \`${leaf.path}\` | \`${leaf.env}\` | ${fallback} | `), `row ${i} is for ${leaf.path}: ${rows[i]}`);
  });
});
