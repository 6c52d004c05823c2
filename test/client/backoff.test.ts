import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../client/src/index.ts';

// Reconnect backoff with full jitter: the n-th consecutive failure waits within
// [0, min(maxMs, baseMs · 2^n)], so devices that lost the same server spread out.

test('each delay lies within [0, min(max, base·2^n)] for any random draw', () => {
  for (const draw of [0, 0.25, 0.5, 0.999999]) {
    const backoff = new Backoff({ baseMs: 100, maxMs: 5000, random: () => draw });
    for (let n = 0; n < 12; n++) {
      const ceiling = Math.min(5000, 100 * 2 ** n);
      assert.equal(backoff.ceiling(n), ceiling);
      const delay = backoff.next();
      assert.ok(delay >= 0 && delay <= ceiling, `attempt ${n}: ${delay} outside [0, ${ceiling}]`);
      assert.equal(delay, Math.floor(draw * ceiling));
    }
  }
});

test('the ceiling doubles from base and stops at max; reset starts over', () => {
  const backoff = new Backoff({ baseMs: 250, maxMs: 4000, random: () => 0.999999 });
  const delays = Array.from({ length: 7 }, () => backoff.next());
  assert.deepEqual(delays, [249, 499, 999, 1999, 3999, 3999, 3999]);
  assert.equal(backoff.attempt, 7);
  backoff.reset();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.next(), 249);
});

test('a server reconnect hint is never undercut: [afterMs, afterMs + max(base, afterMs/2))', () => {
  const low = new Backoff({ baseMs: 100, random: () => 0 });
  const high = new Backoff({ baseMs: 100, random: () => 0.999999 });
  assert.equal(low.afterHint(1000), 1000);
  assert.equal(high.afterHint(1000), 1499);
  assert.equal(high.afterHint(0), 99);
  assert.equal(low.attempt, 0, 'a hint does not count as a failure');
});

test('defaults: 500 ms base, 30 s cap, Math.random', () => {
  const backoff = new Backoff();
  assert.equal(backoff.baseMs, 500);
  assert.equal(backoff.maxMs, 30_000);
  for (let n = 0; n < 20; n++) assert.ok(backoff.next() <= 30_000);
});
