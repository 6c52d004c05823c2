/**
 * LIM-1: `limits.maxGroupMembers` left unset takes what the storage dialect's inbox carries: the
 * compact SQLite inbox one size, PostgreSQL's one row per member per message another
 * (docs/ARCHITECTURE.md); a value that is set wins on either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, validateConfig } from '../../server/config/load-config.ts';
import { DEFAULT_MAX_GROUP_MEMBERS } from '../../server/config/schema.ts';

test('LIM-1: unset, the largest group is the dialect default', () => {
  assert.equal(validateConfig({}).limits.maxGroupMembers, DEFAULT_MAX_GROUP_MEMBERS.sqlite);
  assert.equal(validateConfig({ storage: { dialect: 'postgres' } }).limits.maxGroupMembers, DEFAULT_MAX_GROUP_MEMBERS.postgres);
  assert.ok(DEFAULT_MAX_GROUP_MEMBERS.sqlite > DEFAULT_MAX_GROUP_MEMBERS.postgres);
});

test('LIM-1: a set value wins on either dialect, from a file, the environment or a flag', () => {
  assert.equal(validateConfig({ storage: { dialect: 'postgres' }, limits: { maxGroupMembers: 5000 } }).limits.maxGroupMembers, 5000);
  assert.equal(loadConfig({ env: { TIDINGS_LIMITS_MAX_GROUP_MEMBERS: '300' } }).limits.maxGroupMembers, 300);
  assert.equal(loadConfig({ env: { TIDINGS_STORAGE_DIALECT: 'postgres' }, sets: ['limits.maxGroupMembers=40000'] }).limits.maxGroupMembers, 40000);
  assert.throws(() => validateConfig({ limits: { maxGroupMembers: 1 } }), /maxGroupMembers/);
});
