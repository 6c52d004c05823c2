/**
 * The processes `tidings load` starts when it is not given `--url`: the fake vendors
 * (vendors-child.ts) and a tidings server through the real CLI (`bin/tidings.mjs serve`) with
 * a temp data dir. Both are children, so on a small machine the server, the fakes and the
 * simulated devices each get their own event loop.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, trackChild, waitForLine, type Child } from '../lib/children.ts';

export interface VendorsReady {
  apns: { host: string; port: number };
  fcm: { host: string; port: number };
  ca: string;
  apnsKey: string;
  keyId: string;
  teamId: string;
  topic: string;
  serviceAccountFile: string;
  /** `push.credentials` entries for Huawei, Honor, Xiaomi, OPPO, vivo and Web Push, named after their registration kinds. */
  oemCredentials: Record<string, { type: string } & Record<string, unknown>>;
  controlUrl: string;
  pid: number;
}

export async function startVendors(): Promise<{ child: Child; ready: VendorsReady }> {
  const script = fileURLToPath(new URL('./vendors-child.ts', import.meta.url));
  const proc = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const child = trackChild(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr = (stderr + c).slice(-4000); });
  try {
    const { match } = await waitForLine(proc, /^(\{.*\})$/, 'fake vendors', 30_000, () => stderr);
    const ready = JSON.parse(match[1]!) as VendorsReady;
    proc.stdout!.resume();
    return { child, ready };
  } catch (error) {
    await child.stop(1000);
    throw error;
  }
}

export async function startServerChild(configFile: string, logFile: string, nodeArgs: string[] = []): Promise<{ child: Child; url: string }> {
  const watch = fileURLToPath(new URL('../lib/parent-watch.mjs', import.meta.url));
  const proc = spawn(process.execPath, [...nodeArgs, '--import', watch, 'bin/tidings.mjs', 'serve', '--config', configFile], {
    cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const child = trackChild(proc);
  let stderr = '';
  const log = createWriteStream(logFile, { flags: 'a' });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-4000);
    log.write(c);
  });
  try {
    const { match, rest } = await waitForLine(proc, /tidings listening on (ws:\/\/\S+)/, 'tidings server', 60_000, () => stderr);
    log.write(rest);
    proc.stdout!.pipe(log);
    void child.exited.then(() => log.end());
    return { child, url: match[1]! };
  } catch (error) {
    await child.stop(1000);
    log.end();
    throw error;
  }
}

