import { Option, type Command } from 'commander';
import { configFrom, withCommonOptions, type CommonOptions } from './options.ts';

export function serveCommand(program: Command): void {
  withCommonOptions(program.command('serve').description('run the server (HTTP + WebSocket on one port)'))
    .option('-p, --port <port>', 'TCP port (0 = any free port)')
    .option('-H, --host <host>', 'interface to listen on')
    .option('--log-level <level>', 'pino log level')
    .addOption(new Option('--transport <name>', 'WebSocket implementation (uws needs the optional uWebSockets.js)').choices(['ws', 'uws']))
    .action(async (options: CommonOptions & { port?: string; host?: string; logLevel?: string; transport?: string }) => {
      const overrides: Record<string, unknown> = {};
      if (options.port !== undefined) overrides.port = Number(options.port);
      if (options.host !== undefined) overrides.host = options.host;
      if (options.logLevel !== undefined) overrides.logLevel = options.logLevel;
      if (options.transport !== undefined) overrides.transport = options.transport;
      const config = configFrom(options, overrides);
      // Loaded here so the other commands do not pay for the server's (and firebase-admin's) import.
      const { startServer } = await import('../app.ts');
      const server = await startServer(config);
      const http = server.url.replace(/^ws/, 'http');
      process.stdout.write(`tidings listening on ${server.url}  (health: ${http}/healthz, metrics: ${http}/metrics)\n`);
      let signals = 0;
      const shutdown = (signal: string) => {
        signals += 1;
        if (signals > 1) process.exit(1);
        server.ctx.logger.info({ signal }, 'shutting down');
        const timer = setTimeout(() => process.exit(1), config.shutdown.graceMs + 5000);
        timer.unref();
        server.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
