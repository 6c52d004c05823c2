import { Option, type Command } from 'commander';
import { LIMITS, resolveOptions, UsageError, type RawLoadOptions } from './options.ts';

/** `tidings load` (issue 6): thousands of simulated devices against a server, with exact accounting. */
export function loadCommand(program: Command): void {
  program.command('load')
    .description('run simulated devices against a server (its own, with fake APNs/FCM, or --url) and account for every message')
    .option('--devices <n>', `simulated devices (2-${LIMITS.maxDevices})`, '2000')
    .option('--duration <time>', `how long the mix runs, e.g. 30s, 2m (max ${LIMITS.maxDurationMs / 60_000}m); a drain phase follows`, '30s')
    .option('--drain <time>', 'longest drain phase (everyone back online, final resync, outbox settled)', '30s')
    .option('--url <url>', 'run against this server (loopback only, e.g. ws://127.0.0.1:8080) instead of starting one')
    .option('--secret <secret>', 'with --url: an app secret of that server (auth.secrets), to mint login tokens')
    .option('--admin-secret <secret>', 'with --url: its admin.secret, for push accounting through /admin/*')
    .option('--seed <n>', 'PRNG seed for the mix of devices, groups and actions', '1')
    .option('--rate <n>', 'messages per active device per minute', '6')
    .option('--groups <n>', 'number of groups (3-100 members each; default devices/25)')
    .option('--out <dir>', 'directory for load-<timestamp>.json and .html', 'reports')
    .option('--transport <name>', 'ws or uws: WebSocket implementation of the server this tool starts', 'ws')
    .option('--cluster <n>', `start ${LIMITS.minClusterNodes}-${LIMITS.maxClusterNodes} nodes on a throw-away PostgreSQL and redis-server instead of one server on SQLite`)
    .option('--dialect <name>', 'sqlite or postgres: storage of the one server this tool starts (postgres: a throw-away PostgreSQL, as --cluster starts)')
    .option('--kill-node-at <time>', 'with --cluster: SIGKILL the last node this long after the run starts (e.g. 60s; inside --duration)')
    .option('--latency-window <time>', `width of the report's per-window send→ack and send→deliver latencies (${LIMITS.minLatencyWindowMs / 1000}s-${LIMITS.maxLatencyWindowMs / 60_000}m); a sample counts in the window of its send`, '60s')
    .option('--server-log-level <level>', 'log level of the server(s) this tool starts (logs go to a file in each data dir)', 'warn')
    .option('--server-node-arg <arg...>', 'extra node flag for the server(s) this tool starts, e.g. --server-node-arg=--cpu-prof')
    .addOption(new Option('--inject-fault <spec>', 'self-test: drop-event:p,dup-sync:p,drop-push:p,dup-push:p (client-side faults the accounting must catch)').hideHelp())
    .option('--keep-data', 'keep the started server\'s data dir (always kept when the run fails)')
    .addHelpText('after', `
Starts a tidings server and the fake vendors (APNs, FCM, Huawei, Honor, Xiaomi, OPPO, vivo, Web
Push) as child processes (temp data dir, heartbeat 2 s / 6 s, push.collapseWindowMs 0 so every
offline message maps to exactly one push), connects the devices (iOS on APNs; Android on FCM or
a phone maker's channel, half of those with an FCM token too; browsers on Web Push), runs peer chats, groups, calls, clean closes, silent (half-open) devices, logouts and
push registrations for --duration, then drains and accounts: every message exactly once on every
recipient device (socket, after a final resync from its cursor), every expected push received
once per (device, event) across all of the device's channels. Prints the summary and exactly one of
  VERDICT: zero loss, zero duplicates                      (exit 0)
  VERDICT: FAILED (<n> lost, <m> duplicated)               (exit 1)
Usage errors, and runs that could not start, exit 2.

Besides the whole-run latencies, the reports give send→ack and send→deliver per --latency-window
of the run (each sample in the window its send happened in; the drain adds no window) and a
"cost against history" line: p50 and p99 of the sends in the last 2 minutes against the first 2
(first and last third for runs shorter than 4 minutes). It is informational: the verdict is
about loss and duplicates only. Under the devices' send→ack, "in the server" is the server's own
share (tidings_send_ack_seconds from each node's /metrics over the run, bucket-interpolated).

With --cluster N, the tool also starts a throw-away PostgreSQL (tools/ci/postgres.sh; install it
with \`bash tools/ci/postgres.sh ensure\` or apt-get install postgresql) and a redis-server on
127.0.0.1 without persistence (apt-get install redis-server), then N tidings nodes on them
(storage.dialect postgres, cluster.engine redis, presenceTtlMs 6000, sweepMs 500,
push.claimLeaseMs 5000), one after another, each with its own data dir and log. Every device
connection (and reconnection) goes to a random live node, as behind a TCP load balancer without
sticky sessions. --kill-node-at kills the last node with SIGKILL at that point of the run: the load
balancer stops sending devices to it, its devices reconnect elsewhere, and the devices that stay
away are pushed once the dead node's presence entries expire. The accounting and the verdict
are the same. The reports add per-node CPU and RSS, PostgreSQL's and Redis's, and the kill.

With --url, push accounting is limited to what the admin API exposes: GET /admin/pushes (only
when that server runs in push sandbox mode) and GET /admin/push-jobs (the outbox). Devices
register push tokens with the credential names "ios" (APNs) and "android" (FCM).`)
    .action(async (raw: RawLoadOptions) => {
      let options;
      try {
        options = resolveOptions(raw);
      } catch (error) {
        if (error instanceof UsageError) {
          process.stderr.write(`tidings load: ${error.message}\n`);
          process.exit(2);
        }
        throw error;
      }
      const { runLoad } = await import('./run.ts');
      let code: number;
      try {
        code = await runLoad(options);
      } catch (error) {
        // The tool could not run (server did not start, admin API refused, …): no verdict.
        process.stderr.write(`tidings load: ${error instanceof Error ? error.message : String(error)}\n`);
        code = 2;
      }
      process.exit(code);
    });
}
