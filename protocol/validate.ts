/**
 * Compiled validators: a separate entry from protocol/index.ts, so a browser client that imports
 * the frame types and schemas never pays for the compiler (or its `new Function`, a CSP problem).
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TSchema, Static } from '@sinclair/typebox';
import { ClientFrame } from './client-frames.ts';
import { ServerFrame } from './server-frames.ts';
import { ProtocolError } from './errors.ts';

const clientFrameSchemas = new Map<string, TSchema>(
  ClientFrame.anyOf.map((schema) => [schema.properties.type.const as string, schema]),
);
// Compiled once per frame type: validating against the one matching member gives precise errors
// and avoids trying every member of the union on the hot path.
const compiledClient = new Map(
  [...clientFrameSchemas].map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);
const compiledServer = TypeCompiler.Compile(ServerFrame);

/** Parse and validate one client text frame; throws ProtocolError with a stable code. */
export function parseClientFrame(text: string): ClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('bad_json');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('bad_frame', 'A frame must be a JSON object with a `type`.');
  }
  const type = (value as { type?: unknown }).type;
  const ref = (value as { ref?: unknown }).ref;
  // Echo a usable ref even on a rejected frame, so the client can match the error to its request.
  const refOption = typeof ref === 'string' && ref.length <= 64 ? { ref } : {};
  const checker = typeof type === 'string' ? compiledClient.get(type) : undefined;
  // Never serialise an arbitrary `type`: a deeply nested one would overflow the stack.
  const shown = typeof type === 'string' ? JSON.stringify(type.slice(0, 64)) : typeof type;
  if (!checker) throw new ProtocolError('unknown_type', `Unknown frame type ${shown}.`, refOption);
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First();
    throw new ProtocolError('bad_frame', `Invalid ${String(type)} frame: ${first ? `${first.path || '/'} ${first.message}` : 'schema mismatch'}.`, {
      details: first ? { path: first.path, message: first.message } : undefined, ...refOption,
    });
  }
  return value as ClientFrame;
}

/** For tests and tools: does this object match a server frame schema? */
export function isServerFrame(value: unknown): value is Static<typeof ServerFrame> {
  return compiledServer.Check(value);
}
export function explainServerFrame(value: unknown): string {
  const first = compiledServer.Errors(value).First();
  return first ? `${first.path} ${first.message}` : 'ok';
}
