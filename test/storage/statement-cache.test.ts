import { test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { withStatementCache } from '../../storage/sqlite/sqlite-database.ts';

function database() {
  const sqlite = new SQLite(':memory:');
  sqlite.exec('CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)');
  return sqlite;
}

const inList = (n: number) => `SELECT * FROM t WHERE id IN (${Array(n).fill('?').join(', ')})`;

/**
 * The server's RSS must not grow with the variety of its queries (issue 18, memory): prepared
 * statements are kept by the SQL text they hold, within a budget, and a long one is not kept.
 */
test('the statement cache reuses a statement for the same SQL', () => {
  const sqlite = database();
  const cache = withStatementCache(sqlite);
  const a = cache.prepare('SELECT v FROM t WHERE id = ?');
  const b = cache.prepare('SELECT v FROM t WHERE id = ?');
  assert.equal(a, b);
  assert.equal(cache.cachedChars(), 'SELECT v FROM t WHERE id = ?'.length);
  sqlite.close();
});

test('IN lists of many lengths never hold more SQL than the budget, oldest out first', () => {
  const sqlite = database();
  const budget = 20_000;
  const cache = withStatementCache(sqlite, budget);
  const first = cache.prepare(inList(1));
  for (let n = 2; n <= 1500; n += 7) {
    const statement = cache.prepare(inList(n)) as unknown as SQLite.Statement;
    assert.deepEqual(statement.all(...Array.from({ length: n }, (_, i) => `u${i}`)), []);
    assert.ok(cache.cachedChars() <= budget, `${cache.cachedChars()} chars cached after ${n}`);
  }
  assert.notEqual(cache.prepare(inList(1)), first, 'the oldest statement was evicted');
  assert.ok(cache.cachedChars() > budget / 2, 'the budget is used, not left empty');
  sqlite.close();
});

test('a statement longer than the largest kept is compiled for each use and not cached', () => {
  const sqlite = database();
  const cache = withStatementCache(sqlite);
  const long = inList(8000);
  assert.ok(long.length > 8 * 1024);
  const a = cache.prepare(long);
  const b = cache.prepare(long);
  assert.notEqual(a, b);
  assert.equal(cache.cachedChars(), 0);
  sqlite.close();
});
