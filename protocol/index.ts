export * from './common.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './client-frames.ts';
export * from './server-frames.ts';
