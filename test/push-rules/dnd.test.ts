import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inDnd, localMinutes } from '../../push/dnd.ts';

// SET-3 as a pure function, at fixed instants, in a zone with a half-hour offset (UTC+5:30).
const KOLKATA = 'Asia/Kolkata';
const night = { start: 22 * 60, end: 7 * 60, timeZone: KOLKATA };

test('SET-3: local minutes follow the time zone, not UTC', () => {
  assert.equal(localMinutes(Date.parse('2026-11-25T16:45:00Z'), KOLKATA), 22 * 60 + 15);
  assert.equal(localMinutes(Date.parse('2026-11-25T16:45:00Z'), 'UTC'), 16 * 60 + 45);
});

test('SET-3: a window that wraps past midnight covers late evening and early morning only', () => {
  assert.equal(inDnd(night, Date.parse('2026-11-25T16:29:00Z')), false, '21:59 local');
  assert.equal(inDnd(night, Date.parse('2026-11-25T16:30:00Z')), true, '22:00 local, start inclusive');
  assert.equal(inDnd(night, Date.parse('2026-11-25T19:00:00Z')), true, '00:30 local, after midnight');
  assert.equal(inDnd(night, Date.parse('2026-11-26T01:29:00Z')), true, '06:59 local');
  assert.equal(inDnd(night, Date.parse('2026-11-26T01:30:00Z')), false, '07:00 local, end exclusive');
  assert.equal(inDnd(night, Date.parse('2026-11-25T16:45:00Z')), true);
  // The same UTC instant is outside the window in UTC itself.
  assert.equal(inDnd({ ...night, timeZone: 'UTC' }, Date.parse('2026-11-25T16:45:00Z')), false);
});

test('SET-3: a same-day window, and an empty one', () => {
  const lunch = { start: 12 * 60, end: 13 * 60, timeZone: 'Europe/Berlin' };
  assert.equal(inDnd(lunch, Date.parse('2026-11-25T11:30:00Z')), true, '12:30 in Berlin (UTC+1)');
  assert.equal(inDnd(lunch, Date.parse('2026-11-25T12:30:00Z')), false, '13:30 in Berlin');
  assert.equal(inDnd({ start: 600, end: 600, timeZone: 'UTC' }, Date.now()), false);
  assert.equal(inDnd(null, Date.now()), false);
});
