import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { loadCommand } from '../../tools/load/command.ts';
import { LIMITS, resolveOptions, UsageError, type RawLoadOptions } from '../../tools/load/options.ts';

const usage = (raw: RawLoadOptions, pattern: RegExp) => assert.throws(() => resolveOptions(raw), (error: unknown) => error instanceof UsageError && pattern.test(error.message));

test('tidings load: without --cluster the run is the one-server run (no cluster, no kill)', () => {
  const o = resolveOptions({});
  assert.equal(o.cluster, undefined);
  assert.equal(o.killNodeAtMs, undefined);
});

test('tidings load --cluster N: 2 to 5 nodes, an integer', () => {
  assert.equal(resolveOptions({ cluster: '2' }).cluster, 2);
  assert.equal(resolveOptions({ cluster: String(LIMITS.maxClusterNodes) }).cluster, 5);
  for (const bad of ['1', '6', '0', '2.5', 'three', '']) usage({ cluster: bad }, /--cluster must be an integer in \[2, 5\]/);
});

test('tidings load --cluster starts its own nodes: it cannot be combined with --url (whatever else is missing)', () => {
  usage({ cluster: '3', url: 'ws://127.0.0.1:8080' }, /--cluster .* cannot be combined with --url/);
  usage({ cluster: '3', url: 'ws://127.0.0.1:8080', secret: 'x'.repeat(16), adminSecret: 'y'.repeat(16) }, /cannot be combined with --url/);
});

test('tidings load --kill-node-at: only with --cluster, and strictly inside --duration', () => {
  usage({ killNodeAt: '10s' }, /--kill-node-at needs --cluster/);
  assert.equal(resolveOptions({ cluster: '3', duration: '2m', killNodeAt: '60s' }).killNodeAtMs, 60_000);
  assert.equal(resolveOptions({ cluster: '2', duration: '20s', killNodeAt: '19.5s' }).killNodeAtMs, 19_500);
  usage({ cluster: '3', duration: '2m', killNodeAt: '2m' }, /--kill-node-at must be inside the run/);
  usage({ cluster: '3', duration: '2m', killNodeAt: '3m' }, /--kill-node-at must be inside the run/);
  usage({ cluster: '3', duration: '2m', killNodeAt: '0s' }, /--kill-node-at must be inside the run/);
  usage({ cluster: '3', killNodeAt: 'soon' }, /not a duration/);
  // The default duration (30s) bounds it too.
  usage({ cluster: '2', killNodeAt: '30s' }, /less than --duration \(30s\)/);
});

test('tidings load --help documents --cluster and --kill-node-at', () => {
  const program = new Command();
  loadCommand(program);
  const load = program.commands.find((c) => c.name() === 'load')!;
  let help = '';
  load.configureOutput({ writeOut: (s) => { help += s; } });
  load.outputHelp();
  assert.match(help, /--cluster <n>/);
  assert.match(help, /--kill-node-at <time>/);
  assert.match(help, /PostgreSQL/);
  assert.match(help, /redis-server/);
  assert.match(help, /random live node/);
});

test('tidings load --dialect: the one server on SQLite by default or on a throw-away PostgreSQL; a cluster is always on PostgreSQL', () => {
  assert.equal(resolveOptions({}).dialect, 'sqlite');
  assert.equal(resolveOptions({ dialect: 'postgres' }).dialect, 'postgres');
  assert.equal(resolveOptions({ cluster: '2' }).dialect, 'postgres');
  usage({ dialect: 'mysql' }, /--dialect must be sqlite or postgres/);
  usage({ cluster: '2', dialect: 'sqlite' }, /--cluster runs on PostgreSQL/);
  usage({ dialect: 'postgres', url: 'ws://127.0.0.1:8080', secret: 'x'.repeat(16), adminSecret: 'y'.repeat(16) }, /cannot be combined with --url/);
});
