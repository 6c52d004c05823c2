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
/** With TIDINGS_SQL_PROFILE_EVERY_S=<s> as well: a table per interval (what each statement cost in it), to see costs change over a run. */
const everyS = Number(process.env.TIDINGS_SQL_PROFILE_EVERY_S ?? 0);
const totals = new Map<string, { calls: number; ms: number }>();

function table(entries: Iterable<[string, { calls: number; ms: number }]>): string {
  const lines = [...entries].sort((a, b) => b[1].ms - a[1].ms)
    .map(([text, { calls, ms }]) => `${ms.toFixed(0).padStart(8)} ms ${String(calls).padStart(9)}x  ${text.replace(/\s+/g, ' ').slice(0, 220)}`);
  return `${lines.join('\n')}\n`;
}

if (target) {
  process.on('exit', () => writeFileSync(`${target}.${process.pid}.${threadId}.txt`, table(totals)));
  if (everyS > 0) {
    const started = Date.now();
    let previous = new Map<string, { calls: number; ms: number }>();
    setInterval(() => {
      const delta = [...totals].map(([text, t]): [string, { calls: number; ms: number }] => {
        const before = previous.get(text) ?? { calls: 0, ms: 0 };
        return [text, { calls: t.calls - before.calls, ms: t.ms - before.ms }];
      });
      previous = new Map([...totals].map(([text, t]) => [text, { ...t }]));
      const at = Math.round((Date.now() - started) / 1000);
      writeFileSync(`${target}.${process.pid}.${threadId}.t${String(at).padStart(5, '0')}.txt`, table(delta));
    }, everyS * 1000).unref();
  }
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
