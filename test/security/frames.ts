/**
 * fast-check arbitraries over the real client frame shapes (protocol/client-frames.ts), hostile
 * mutations of them, and hand-written oracles of what the schema accepts. Shared by the
 * property tests in test/security/hostile-input.test.ts; not a test file itself.
 */
import fc from 'fast-check';

export const ID_RE = /^[A-Za-z0-9_.@-]{1,64}$/;
const CUSTOM_KEY_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Ids from a small pool (so frames hit real state) or anywhere in the Id space. */
export const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('alice', 'bob', 'mallory', 'team', 'ghost', 'a', 'x'.repeat(64)) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.@-]{1,64}$/) },
);
const refArb = fc.option(fc.string({ maxLength: 64 }), { nil: undefined });
const seqArb = fc.oneof(fc.nat({ max: 50 }), fc.constantFrom(0, 2 ** 31, Number.MAX_SAFE_INTEGER, 1e300));
const platformArb = fc.constantFrom('ios', 'android', 'web', 'desktop');
const providerArb = fc.constantFrom('apns', 'apns-voip', 'fcm');
const recipientArb = fc.oneof(idArb.map((user) => ({ user })), idArb.map((group) => ({ group })));
const contentArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 80 }).map((text) => ({ type: 'text', text })),
  fc.record({ type: fc.constant('custom'), data: fc.string({ maxLength: 80 }), description: fc.string({ maxLength: 40 }) }, { requiredKeys: ['type', 'data'] }),
);
const conversationArb = fc.oneof(
  fc.tuple(idArb, idArb).map(([a, b]) => (a < b ? `p:${a}:${b}` : `p:${b}:${a}`)),
  idArb.map((g) => `g:${g}`),
  idArb.map((c) => `c:${c}`),
);

/** Valid push options (every field within its documented bound). */
export const validPushArb = fc.record({
  title: fc.string({ maxLength: 256 }),
  content: fc.string({ maxLength: 200 }),
  payload: fc.string({ maxLength: 200 }),
  resourcesId: fc.string({ maxLength: 64 }),
  sound: fc.string({ maxLength: 64 }),
  mutableContent: fc.boolean(),
  custom: fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/), fc.string({ maxLength: 64 }), { maxKeys: 16, noNullPrototype: true }),
  force: fc.boolean(),
  noPush: fc.boolean(),
}, { requiredKeys: [] });

const dndArb = fc.record({ start: fc.integer({ min: 0, max: 1439 }), end: fc.integer({ min: 0, max: 1439 }), timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'Asia/Kolkata', 'Not/AZone') });

/** A valid `send`, mostly to the users the tests watch. */
export function validSendArb(): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(fc.record({
    type: fc.constant('send'), clientMsgId: fc.string({ minLength: 1, maxLength: 64 }), to: recipientArb, content: contentArb, push: validPushArb,
  }, { requiredKeys: ['type', 'clientMsgId', 'to', 'content'] }), refArb).map(([frame, ref]) => (ref === undefined ? frame : { ...frame, ref }));
}

/** One arbitrary per client frame type, each producing a frame that passes the schema. */
export function validFrameArb(tokens: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const withRef = <T extends Record<string, unknown>>(arb: fc.Arbitrary<T>) =>
    fc.tuple(arb, refArb).map(([frame, ref]) => (ref === undefined ? frame : { ...frame, ref }) as Record<string, unknown>);
  const answer = (type: string) => withRef(fc.record({ type: fc.constant(type), callId: idArb }));
  return fc.oneof(
    withRef(fc.record({
      type: fc.constant('login'),
      token: fc.oneof(fc.constantFrom(...tokens), fc.string({ minLength: 1, maxLength: 100 })),
      deviceId: idArb, platform: platformArb,
    })),
    withRef(fc.record({ type: fc.constant('logout') })),
    withRef(fc.record({ type: fc.constant('ping'), t: fc.double({ noNaN: true, noDefaultInfinity: true }) }, { requiredKeys: ['type'] })),
    validSendArb(),
    withRef(fc.record({ type: fc.constant('ack'), seq: seqArb })),
    withRef(fc.record({ type: fc.constant('sync'), after: seqArb, limit: fc.integer({ min: 1, max: 1000 }) }, { requiredKeys: ['type'] })),
    withRef(fc.record({
      type: fc.constant('group_create'), groupId: idArb, name: fc.string({ maxLength: 128 }), members: fc.array(idArb, { maxLength: 5 }),
    }, { requiredKeys: ['type', 'name', 'members'] })),
    withRef(fc.record({ type: fc.constantFrom('group_join', 'group_leave', 'group_members'), groupId: idArb })),
    withRef(fc.record({ type: fc.constant('read'), conversation: conversationArb, upTo: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(1e300)) })),
    withRef(fc.record({ type: fc.constant('unread') })),
    withRef(fc.record({
      type: fc.constant('push_register'), provider: providerArb,
      token: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.stringMatching(/^[A-Za-z0-9_:.-]{1,100}$/)),
      credential: fc.oneof(fc.constantFrom('ios', 'android-app'), fc.string({ minLength: 1, maxLength: 40 })),
      environment: fc.constantFrom('development', 'production'), topic: fc.string({ minLength: 1, maxLength: 50 }),
    }, { requiredKeys: ['type', 'provider', 'token', 'credential'] })),
    withRef(fc.record({ type: fc.constant('push_unregister'), provider: providerArb }, { requiredKeys: ['type'] })),
    withRef(fc.record({
      type: fc.constant('call_invite'), invitees: fc.array(idArb, { minLength: 1, maxLength: 4 }),
      timeoutSec: fc.integer({ min: 1, max: 600 }), data: fc.string({ maxLength: 100 }), push: validPushArb,
    }, { requiredKeys: ['type', 'invitees'] })),
    answer('call_accept'), answer('call_reject'), answer('call_cancel'), answer('call_end'),
    withRef(fc.record({ type: fc.constant('settings_get') })),
    withRef(fc.record({
      type: fc.constant('settings_update'), displayName: fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), fc.constant(null)),
      displayStyle: fc.constantFrom('banner', 'summary'), dnd: fc.oneof(dndArb, fc.constant(null)), pushEnabled: fc.boolean(),
    }, { requiredKeys: ['type'] })),
    withRef(fc.record({ type: fc.constant('mute'), to: recipientArb, muted: fc.boolean() })),
    withRef(fc.record({ type: fc.constant('block'), user: idArb, blocked: fc.boolean() })),
  );
}

/**
 * A value that is serialised specially: JSON.stringify would itself overflow the stack on
 * 10,000 nested arrays, so deep nesting is spliced into the text after stringify.
 */
const DEEP = '\u0000deep:';
export function deepMarker(depth: number): string {
  return `${DEEP}${depth}`;
}
export function toText(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000deep:(\d+)"/g, (_m, depth: string) => '['.repeat(Number(depth)) + ']'.repeat(Number(depth)));
}

/** Hostile values for one field: wrong types, out-of-range numbers, odd strings, deep nesting, huge strings. */
export function hostileValueArb(maxFrameBytes: number): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 2, arbitrary: fc.constantFrom(null, true, false, 0, -1, -0, 1.5, 1e300, -1e300, Number.MAX_SAFE_INTEGER + 2, '', [], {}, [[]], { type: 'text' }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) },
    { weight: 1, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff', 'a\nb', '../../etc/passwd', '<script>', '${x}', '__proto__', 'p:alice:bob', 'g:team') },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: Math.floor((maxFrameBytes - 200) / 2) }).map(deepMarker) },
    // A few times the frame limit: gets frame_too_large, never reaches the parser.
    { weight: 1, arbitrary: fc.integer({ min: maxFrameBytes + 1, max: 3 * maxFrameBytes }).map((n) => 'x'.repeat(n)) },
    // Big but under the frame limit: reaches the schema (and message_too_large for content).
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: maxFrameBytes - 500 }).map((n) => 'y'.repeat(n)) },
  );
}

const FIELD_NAMES = ['type', 'ref', 'token', 'deviceId', 'platform', 'clientMsgId', 'to', 'content', 'push', 'seq', 'after', 'limit',
  'groupId', 'name', 'members', 'conversation', 'upTo', 'provider', 'credential', 'callId', 'invitees', 'dnd', 'user', 'muted',
  'blocked', 'from', 'userId', 'sender', '__proto__', 'constructor'];

export type Mutation =
  | { op: 'set'; key: string; value: unknown }
  | { op: 'delete'; index: number }
  | { op: 'retype'; type: string }
  | { op: 'nested'; value: unknown };

export function mutationArb(maxFrameBytes: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.oneof(fc.constantFrom(...FIELD_NAMES), fc.string({ maxLength: 10 })), value: hostileValueArb(maxFrameBytes) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), index: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('retype' as const), type: fc.constantFrom('login', 'send', 'sync', 'ack', 'read', 'mute', 'block', 'call_accept', 'settings_update', 'group_create', 'push_register', 'teleport', 'SEND', 'send ', '') }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('nested' as const), value: hostileValueArb(maxFrameBytes) }) },
  );
}

/** Apply one mutation to a frame; returns the text to send. */
export function mutate(frame: Record<string, unknown>, mutation: Mutation): string {
  switch (mutation.op) {
    case 'set': {
      // Built as text so `__proto__` becomes an own key exactly as JSON.parse will see it.
      const entries = Object.entries(frame).filter(([k]) => k !== mutation.key);
      entries.push([mutation.key, mutation.value]);
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${toText(v)}`).join(',')}}`;
    }
    case 'delete': {
      const keys = Object.keys(frame);
      const copy = { ...frame };
      delete copy[keys[mutation.index % keys.length]!];
      return toText(copy);
    }
    case 'retype':
      return toText({ ...frame, type: mutation.type });
    case 'nested': {
      // Replace the innermost value of the first object-valued field (e.g. `to.user`, `content.text`).
      const key = Object.keys(frame).find((k) => typeof frame[k] === 'object' && frame[k] !== null && !Array.isArray(frame[k]));
      if (!key) return toText({ ...frame, extra: mutation.value });
      const inner = frame[key] as Record<string, unknown>;
      const innerKey = Object.keys(inner)[0] ?? 'x';
      return toText({ ...frame, [key]: { ...inner, [innerKey]: mutation.value } });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Oracles: what the schema says, written out by hand from docs/PROTOCOL.md and protocol/*.ts.
// String lengths are UTF-16 code units, as TypeBox counts them (`string.length`).

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const onlyKeys = (o: Record<string, unknown>, allowed: readonly string[]) => Object.keys(o).every((k) => allowed.includes(k));
const isStr = (v: unknown, min: number, max: number) => typeof v === 'string' && v.length >= min && v.length <= max;
const isInt = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isId = (v: unknown) => typeof v === 'string' && ID_RE.test(v);
const optRef = (o: Record<string, unknown>) => !('ref' in o) || isStr(o.ref, 0, 64);
const isRecipient = (v: unknown) => isObject(v) && Object.keys(v).length === 1 && (('user' in v && isId(v.user)) || ('group' in v && isId(v.group)));

/** PushOptions (protocol/common.ts), as documented under `send`. */
export function pushOptionsOk(p: unknown): boolean {
  if (!isObject(p)) return false;
  const strings: Record<string, number> = { title: 256, content: 2048, payload: 2048, resourcesId: 64, sound: 64 };
  const booleans = ['mutableContent', 'force', 'noPush'];
  for (const [key, value] of Object.entries(p)) {
    if (key in strings) {
      if (!isStr(value, 0, strings[key]!)) return false;
    } else if (booleans.includes(key)) {
      if (typeof value !== 'boolean') return false;
    } else if (key === 'custom') {
      if (!isObject(value)) return false;
      const entries = Object.entries(value);
      if (entries.length > 16) return false;
      if (!entries.every(([k, v]) => CUSTOM_KEY_RE.test(k) && isStr(v, 0, 512))) return false;
    } else return false;
  }
  return true;
}

const dndOk = (v: unknown) => v === null || (isObject(v) && onlyKeys(v, ['start', 'end', 'timeZone'])
  && isInt(v.start, 0, 1439) && isInt(v.end, 0, 1439) && isStr(v.timeZone, 1, 64));

export function settingsUpdateOk(f: Record<string, unknown>): boolean {
  return onlyKeys(f, ['type', 'ref', 'displayName', 'displayStyle', 'dnd', 'pushEnabled']) && optRef(f)
    && (!('displayName' in f) || f.displayName === null || isStr(f.displayName, 1, 64))
    && (!('displayStyle' in f) || f.displayStyle === 'banner' || f.displayStyle === 'summary')
    && (!('dnd' in f) || dndOk(f.dnd))
    && (!('pushEnabled' in f) || typeof f.pushEnabled === 'boolean');
}

export function muteOk(f: Record<string, unknown>): boolean {
  return onlyKeys(f, ['type', 'ref', 'to', 'muted']) && optRef(f) && isRecipient(f.to) && typeof f.muted === 'boolean';
}

export function blockOk(f: Record<string, unknown>): boolean {
  return onlyKeys(f, ['type', 'ref', 'user', 'blocked']) && optRef(f) && isId(f.user) && typeof f.blocked === 'boolean';
}

/** Half-valid, half-hostile values for one field, so both verdicts occur often. */
export function fieldArb(valid: fc.Arbitrary<unknown>, validWeight = 3): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: validWeight, arbitrary: valid },
    { weight: 2, arbitrary: fc.constantFrom(null, true, 0, -1, 1.5, 1440, '', 'x'.repeat(65), 'x'.repeat(257), 'x'.repeat(513), 'x'.repeat(2049), [], {}, { user: 'bob', group: 'team' }, '\ud83d\ude00'.repeat(33), 'a b') },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
}

/** A JSON object built as text from entries, so duplicate and `__proto__` keys reach JSON.parse as written. */
export function objectText(entries: ReadonlyArray<readonly [string, unknown]>): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}
