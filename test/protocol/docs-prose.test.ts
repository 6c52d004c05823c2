/**
 * docs/PROTOCOL.md beyond its tables of codes: the facts stated in prose and in the per-frame
 * reference are checked against the schemas, so a frame field, an `ok.for` value, an event kind or
 * an error a frame names cannot drift from the code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TObject } from '@sinclair/typebox';
import { CLIENT_FRAME_TYPES, ClientFrame, DeliveredEvent, ERROR_CODES, OK_FOR, ServerFrame } from '../../protocol/index.ts';

const doc = readFileSync(fileURLToPath(new URL('../../docs/PROTOCOL.md', import.meta.url)), 'utf8');

/** The text under `### \`name\`` in a `## title` part, up to the next heading. */
function reference(part: string, name: string): string {
  const partStart = doc.search(new RegExp(`^## ${part}\\s*$`, 'm'));
  assert.ok(partStart >= 0, `no "## ${part}"`);
  const rest = doc.slice(partStart);
  const partEnd = rest.slice(3).search(/^## /m);
  const body = partEnd >= 0 ? rest.slice(0, partEnd + 3) : rest;
  const start = body.search(new RegExp(`^### \`${name}\`\\s*$`, 'm'));
  assert.ok(start >= 0, `docs/PROTOCOL.md ## ${part} has no "### \`${name}\`"`);
  const after = body.slice(start + 4);
  const end = after.search(/^#{2,3} /m);
  return end >= 0 ? after.slice(0, end) : after;
}

/** The first column of the section's field table, in backticks. */
function tableFields(text: string): string[] {
  const rows = text.split('\n').filter((l) => /^\| `[A-Za-z]+` \|/.test(l));
  return rows.map((l) => /^\| `([A-Za-z]+)`/.exec(l)![1]!);
}

const members = (union: { anyOf: TObject[] }, key: 'type' | 'kind') => new Map(union.anyOf.map((s) => [s.properties[key]!.const as string, s]));

test('every client frame\'s reference table lists exactly its schema\'s fields', () => {
  for (const [type, schema] of members(ClientFrame as never, 'type')) {
    assert.deepEqual(tableFields(reference('Client frames', type)).sort(), Object.keys(schema.properties).sort(), `client frame ${type}`);
  }
});

test('every server frame\'s reference table lists exactly its schema\'s fields', () => {
  for (const [type, schema] of members(ServerFrame as never, 'type')) {
    // `events` and `sync_page` list their own fields; the events inside have their own part.
    assert.deepEqual(tableFields(reference('Server frames', type)).sort(), Object.keys(schema.properties).sort(), `server frame ${type}`);
  }
});

test('the request/reply table names every client frame, and every `ok` reply is documented as such', () => {
  const table = doc.slice(doc.indexOf('| Client frame | Success reply'), doc.indexOf('Exceptions to "the error echoes `ref`"'));
  const listed = [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual([...listed].sort(), [...CLIENT_FRAME_TYPES].sort());
  for (const type of OK_FOR) assert.match(table, new RegExp(`\\| \`${type}\` \\| \`ok\` with \`"for":"${type}"\``), `${type} answers ok`);
  const okFor = [...table.matchAll(/`ok` with `"for":"([a-z_]+)"`/g)].map((m) => m[1]!);
  assert.deepEqual(okFor.sort(), [...OK_FOR].sort(), 'no frame is said to answer ok that does not');
});

test('the `ok` frame\'s `for` values are exactly the frames that answer `ok`', () => {
  const row = reference('Server frames', 'ok').split('\n').find((l) => l.startsWith('| `for` |'))!;
  const named = [...row.matchAll(/`"([a-z_]+)"`/g)].map((m) => m[1]!);
  assert.deepEqual(named.sort(), [...OK_FOR].sort());
});

test('the event envelope lists every event kind, and each has its reference section', () => {
  const row = doc.split('\n').find((l) => l.startsWith('| `kind` | string |'))!;
  const kinds = [...row.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!).filter((k) => k !== 'kind');
  const schemaKinds = [...members(DeliveredEvent as never, 'kind').keys()];
  assert.deepEqual(kinds.sort(), [...schemaKinds].sort());
  for (const kind of schemaKinds) assert.ok(reference('Delivered events', kind).length > 0);
});

test('every error a frame\'s reference names is a code of the one table', () => {
  for (const type of CLIENT_FRAME_TYPES) {
    const text = reference('Client frames', type);
    for (const line of text.split('\n').filter((l) => l.startsWith('Errors'))) {
      for (const [, code] of line.matchAll(/`([a-z_]+)`/g)) {
        assert.ok(code! in ERROR_CODES, `${type}: "${code}" is not an error code`);
      }
    }
  }
});
