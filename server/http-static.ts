import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpHandler, HttpResponse } from './transports/transport.ts';

const repository = fileURLToPath(new URL('..', import.meta.url));

/** URL prefix → folder served under it (the examples and the built SDK, all static). */
export const STATIC_MOUNTS: ReadonlyArray<{ prefix: string; dir: string; hint?: string }> = [
  { prefix: '/demo/', dir: join(repository, 'examples/browser-demo') },
  { prefix: '/console/', dir: join(repository, 'examples/push-console') },
  { prefix: '/sdk/', dir: join(repository, 'client/dist'), hint: 'the SDK is not built: run `npm run build:client`' },
];

// Text files only: the transports answer with a string body.
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

const HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Same-origin scripts, styles and sockets only: the pages need nothing from the internet.
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
};

function text(status: number, body: string, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...HEADERS, ...headers }, body };
}

/**
 * Serves the browser demo at /demo/, the push console at /console/ and the built SDK at /sdk/;
 * everything else goes to `next`. GET only (405 otherwise); paths are decoded once and must stay inside their
 * folder (no `..`, no dot files, no NUL); only known text types are served.
 */
export function withStaticFiles(next: HttpHandler): HttpHandler {
  return async (request) => {
    const pathname = new URL(request.url, 'http://localhost').pathname;
    const mount = STATIC_MOUNTS.find((m) => pathname === m.prefix.slice(0, -1) || pathname.startsWith(m.prefix));
    if (!mount) return next(request);
    if (request.method !== 'GET') return text(405, 'method not allowed\n', { allow: 'GET' });
    if (pathname === mount.prefix.slice(0, -1)) return text(301, `${mount.prefix}\n`, { location: mount.prefix });
    return serveFile(mount, pathname.slice(mount.prefix.length));
  };
}

async function serveFile(mount: (typeof STATIC_MOUNTS)[number], encoded: string): Promise<HttpResponse> {
  let relative: string;
  try {
    relative = decodeURIComponent(encoded);
  } catch {
    return text(400, 'bad path\n');
  }
  const segments = relative.split(/[\\/]/);
  if (relative.includes('\0') || segments.some((s) => s === '..' || s.startsWith('.'))) return text(404, 'not found\n');
  if (relative === '' || relative.endsWith('/')) relative += 'index.html';
  const root = resolve(mount.dir);
  const file = resolve(root, relative);
  if (!file.startsWith(root + sep)) return text(404, 'not found\n');
  const type = CONTENT_TYPES[extname(file).toLowerCase()];
  if (!type) return text(404, 'not found\n');
  try {
    if (!(await stat(file)).isFile()) return text(404, 'not found\n');
    const body = await readFile(file, 'utf8');
    return { status: 200, headers: { 'content-type': type, ...HEADERS }, body };
  } catch {
    return text(404, mount.hint ? `not found (${mount.hint})\n` : 'not found\n');
  }
}
