import { writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/**
 * Diagnostic: with TIDINGS_SQL_PROFILE=<path prefix> every statement prepared through the
 * statement cache is timed (calls and total ms per SQL text), and each thread writes its table,
 * slowest first, to `<prefix>.<pid>.<threadId>.txt` at exit. A CPU profile only shows "SQLite";
 * this says which statements (docs/PERFORMANCE.md). Off, it costs one check per prepare.
 */
const target = process.env.TIDINGS_SQL_PROFILE;
const totals = new Map<string, { calls: number; ms: number }>();

if (target) {
  process.on('exit', () => {
    const lines = [...totals].sort((a, b) => b[1].ms - a[1].ms)
      .map(([text, { calls, ms }]) => `${ms.toFixed(0).padStart(8)} ms ${String(calls).padStart(9)}x  ${text.replace(/\s+/g, ' ').slice(0, 220)}`);
    writeFileSync(`${target}.${process.pid}.${threadId}.txt`, `${lines.join('\n')}\n`);
  });
}

function timed(text: string, statement: SQLite.Statement): SQLite.Statement {
  const wrap = (fn: (...args: unknown[]) => unknown) => (...args: unknown[]) => {
    const start = performance.now();
    try {
      return fn.apply(statement, args);
    } finally {
      const entry = totals.get(text) ?? { calls: 0, ms: 0 };
      entry.calls += 1;
      entry.ms += performance.now() - start;
      totals.set(text, entry);
    }
  };
  return new Proxy(statement, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property);
      if (property === 'run' || property === 'all' || property === 'get') return wrap(value as (...args: unknown[]) => unknown);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

/** The statement itself, or a timed stand-in when TIDINGS_SQL_PROFILE is set. */
export function profiledStatement(text: string, statement: SQLite.Statement): SQLite.Statement {
  return target ? timed(text, statement) : statement;
}
