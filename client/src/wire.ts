/**
 * The SDK's one import of ../protocol, the single source of the frame and event types. Types only:
 * nothing of protocol runs in the SDK (its schemas would bring TypeBox into the bundle).
 *
 * The specifier ends in `.js`, not `.ts` like the rest of the repository: protocol is a separate
 * TypeScript project (tsconfig.protocol.json) whose declarations are emitted into dist/protocol,
 * and tsc refuses to rewrite a `.ts` import that crosses projects. scripts/build.mjs points the
 * emitted dist/wire.d.ts at ./protocol/index.js, so the published types resolve inside the package.
 */
export type * from '../../protocol/index.js';
