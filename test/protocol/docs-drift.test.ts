import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ERROR_CODES } from '../../protocol/errors.ts';
import { DeliveredEvent } from '../../protocol/events.ts';
import { ServerFrame } from '../../protocol/server-frames.ts';
import { CLIENT_FRAME_TYPES } from '../../protocol/index.ts';
import { explainServerFrame, isServerFrame, parseClientFrame } from '../../protocol/validate.ts';
import { CloseCode } from '../../server/sessions/session.ts';

/**
 * docs/PROTOCOL.md is the client developers' reference; this keeps it in step with the code:
 * error codes and their retryability, every frame type, every close code, and every JSON example.
 */
const DOC_PATH = fileURLToPath(new URL('../../docs/PROTOCOL.md', import.meta.url));
const doc = readFileSync(DOC_PATH, 'utf8');

const clientTypes: readonly string[] = CLIENT_FRAME_TYPES;
const serverTypes: readonly string[] = ServerFrame.anyOf.map((schema) => schema.properties.type.const as string);
const eventKinds: readonly string[] = DeliveredEvent.anyOf.map((schema) => schema.properties.kind.const as string);
const eventChecker = TypeCompiler.Compile(DeliveredEvent);
// The union check says only "Expected union value"; the matching member says what is wrong.
const serverMemberCheckers = new Map(ServerFrame.anyOf.map((schema) => [schema.properties.type.const as string, TypeCompiler.Compile(schema)]));

function whyNotServerFrame(object: Record<string, unknown>): string {
  const first = serverMemberCheckers.get(object.type as string)?.Errors(object).First();
  return first ? `${first.path || '/'} ${first.message}` : explainServerFrame(object);
}

function lineOf(index: number): number {
  return doc.slice(0, index).split('\n').length;
}

/** The text of a `## <title>` section, up to the next `## ` heading. */
function section(title: string): string {
  const start = doc.search(new RegExp(`^## ${title}\\s*$`, 'm'));
  assert.ok(start >= 0, `docs/PROTOCOL.md has no "## ${title}" section`);
  const rest = doc.slice(start + 3);
  const end = rest.search(/^## /m);
  return end >= 0 ? rest.slice(0, end) : rest;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A heading naming the type, or the type in backticks anywhere. */
function isMentioned(name: string): boolean {
  if (doc.includes(`\`${name}\``)) return true;
  return new RegExp(`^#{1,6} .*(?<![A-Za-z0-9_])${escapeRegExp(name)}(?![A-Za-z0-9_])`, 'm').test(doc);
}

interface JsonExample {
  line: number;
  value: unknown;
}

function jsonExamples(): JsonExample[] {
  const out: JsonExample[] = [];
  // Fenced blocks, possibly indented (inside list items): ```json ... ```
  const fence = /^([ \t]*)```json[^\n]*\n([\s\S]*?)^\1```[ \t]*$/gm;
  for (let match = fence.exec(doc); match; match = fence.exec(doc)) {
    const line = lineOf(match.index);
    let value: unknown;
    try {
      value = JSON.parse(match[2]!);
    } catch (error) {
      assert.fail(`docs/PROTOCOL.md:${line}: json block does not parse: ${(error as Error).message}`);
    }
    out.push({ line, value });
  }
  return out;
}

function objectsOf(value: unknown): Array<Record<string, unknown>> {
  const items = Array.isArray(value) ? value : [value];
  return items.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
}

test('every error code is in the PROTOCOL.md error table with the right retryable value', () => {
  const table = section('Error codes');
  const rows = new Map<string, { retryable: string; meaning: string }>();
  const row = /^\|\s*`([^`]+)`\s*\|\s*([^|]*?)\s*\|\s*(.*?)\s*\|\s*$/gm;
  for (let match = row.exec(table); match; match = row.exec(table)) {
    const [, code, retryable, meaning] = match as unknown as [string, string, string, string];
    assert.ok(!rows.has(code), `error code \`${code}\` appears twice in the table`);
    rows.set(code, { retryable, meaning });
  }
  for (const [code, { retryable }] of Object.entries(ERROR_CODES)) {
    const documented = rows.get(code);
    assert.ok(documented, `error code \`${code}\` (protocol/errors.ts) is missing from the PROTOCOL.md error table`);
    assert.equal(documented.retryable, retryable ? 'yes' : 'no', `retryable of \`${code}\` in PROTOCOL.md`);
    assert.ok(documented.meaning.length > 0, `error code \`${code}\` has no meaning in PROTOCOL.md`);
  }
  const unknown = [...rows.keys()].filter((code) => !(code in ERROR_CODES));
  assert.deepEqual(unknown, [], 'PROTOCOL.md documents error codes that protocol/errors.ts does not have');
});

test('every client frame, server frame and event kind is named in PROTOCOL.md', () => {
  assert.ok(clientTypes.length > 0 && serverTypes.length > 0 && eventKinds.length > 0);
  const missing = [
    ...clientTypes.filter((t) => !isMentioned(t)).map((t) => `client frame ${t}`),
    ...serverTypes.filter((t) => !isMentioned(t)).map((t) => `server frame ${t}`),
    ...eventKinds.filter((k) => !isMentioned(k)).map((k) => `event kind ${k}`),
  ];
  assert.deepEqual(missing, [], 'not mentioned in docs/PROTOCOL.md (as a heading or in backticks)');
});

test('every close code the server uses is in the PROTOCOL.md close code table', () => {
  const table = section('Close codes');
  for (const [name, code] of Object.entries(CloseCode)) {
    assert.match(table, new RegExp(`^\\|\\s*${code}\\s*\\|`, 'm'), `close code ${code} (${name}) is missing from the PROTOCOL.md close code table`);
  }
});

test('every JSON example in PROTOCOL.md validates against the protocol schemas', () => {
  const examples = jsonExamples();
  assert.ok(examples.length > 0, 'no ```json blocks found in docs/PROTOCOL.md');
  const seenTypes = new Set<string>();
  const seenKinds = new Set<string>();
  for (const { line, value } of examples) {
    for (const object of objectsOf(value)) {
      const type = object.type;
      if (typeof type === 'string') {
        seenTypes.add(type);
        if (clientTypes.includes(type)) {
          try {
            parseClientFrame(JSON.stringify(object));
          } catch (error) {
            assert.fail(`docs/PROTOCOL.md:${line}: ${type} example is not a valid client frame: ${(error as Error).message}`);
          }
        } else if (serverTypes.includes(type)) {
          assert.ok(isServerFrame(object), `docs/PROTOCOL.md:${line}: ${type} example is not a valid server frame: ${whyNotServerFrame(object)}`);
        } else {
          assert.fail(`docs/PROTOCOL.md:${line}: example of frame type "${type}", which is neither a client nor a server frame type`);
        }
        // Events nested in `events` / `sync_page` examples are covered by isServerFrame above.
        continue;
      }
      if (typeof object.kind === 'string') {
        seenKinds.add(object.kind);
        const first = eventChecker.Errors(object).First();
        assert.ok(eventChecker.Check(object), `docs/PROTOCOL.md:${line}: ${object.kind} event example is invalid: ${first ? `${first.path} ${first.message}` : ''}`);
      }
    }
  }
  const withoutExample = [
    ...clientTypes.filter((t) => !seenTypes.has(t)).map((t) => `client frame ${t}`),
    ...serverTypes.filter((t) => !seenTypes.has(t)).map((t) => `server frame ${t}`),
    ...eventKinds.filter((k) => !seenKinds.has(k)).map((k) => `event kind ${k}`),
  ];
  assert.deepEqual(withoutExample, [], 'no ```json example in docs/PROTOCOL.md');
});
