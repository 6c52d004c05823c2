import type { Command } from 'commander';
import { startServer } from '../app.ts';
import { configFrom, withCommonOptions, type CommonOptions } from './options.ts';

export function serveCommand(program: Command): void {
  withCommonOptions(program.command('serve').description('run the server (HTTP + WebSocket on one port)'))
    .option('-p, --port <port>', 'TCP port (0 = any free port)')
    .option('-H, --host <host>', 'interface to listen on')
    .option('--log-level <level>', 'pino log level')
    .action(async (options: CommonOptions & { port?: string; host?: string; logLevel?: string }) => {
      const overrides: Record<string, unknown> = {};
      if (options.port !== undefined) overrides.port = Number(options.port);
      if (options.host !== undefined) overrides.host = options.host;
      if (options.logLevel !== undefined) overrides.logLevel = options.logLevel;
      const config = configFrom(options, overrides);
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
