import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configLeaves } from './schema.ts';

/**
 * The README's configuration table, generated from the one config schema so the docs cannot
 * drift: one row per leaf of configLeaves(), in schema order. test/config/readme-table.test.ts
 * checks that README.md holds exactly this text between the two markers.
 *
 *   node --import tsx server/config/config-table.ts           print the table
 *   node --import tsx server/config/config-table.ts --write   replace it in README.md
 */
export const CONFIG_TABLE_START = '<!-- config-table:start -->';
export const CONFIG_TABLE_END = '<!-- config-table:end -->';

/** Table cells are one line, and `|` would end the cell (also inside code spans). */
function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

export function renderConfigTable(): string {
  const rows = configLeaves().map((leaf) => {
    const schema = leaf.schema as { default?: unknown; description?: unknown };
    const fallback = 'default' in schema ? `\`${JSON.stringify(schema.default)}\`` : '—';
    const description = typeof schema.description === 'string' ? schema.description : '';
    return `| \`${leaf.path}\` | \`${leaf.env}\` | ${cell(fallback)} | ${cell(description)} |`;
  });
  return ['| setting | env var | default | description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** README text with the table between the markers replaced by the current one. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(CONFIG_TABLE_START);
  const end = readme.indexOf(CONFIG_TABLE_END);
  if (start < 0 || end < start) throw new Error(`README has no ${CONFIG_TABLE_START} … ${CONFIG_TABLE_END} block`);
  return `${readme.slice(0, start + CONFIG_TABLE_START.length)}\n${renderConfigTable()}\n${readme.slice(end)}`;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  if (process.argv.includes('--write')) {
    const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));
    writeFileSync(readmePath, withConfigTable(readFileSync(readmePath, 'utf8')));
    process.stdout.write(`updated the configuration table in ${readmePath}\n`);
  } else {
    process.stdout.write(`${renderConfigTable()}\n`);
  }
}
