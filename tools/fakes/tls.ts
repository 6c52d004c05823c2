// Throw-away TLS material for the fake vendor servers, generated with the
// openssl CLI at test time (Node cannot mint X.509 certificates itself).
// Nothing is committed; files live in a temp dir only while openssl runs.

import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Names the fakes answer for: loopback plus the real vendor hosts (reached via redirection). */
export const FAKE_SERVER_NAMES = [
  'DNS:localhost',
  'IP:127.0.0.1',
  'DNS:api.push.apple.com',
  'DNS:api.sandbox.push.apple.com',
  'DNS:fcm.googleapis.com',
  'DNS:oauth2.googleapis.com',
];

export interface ServerTls {
  key: string;
  cert: string;
  /** What clients must trust: the self-signed server certificate itself. */
  ca: string;
}

export interface ClientCert {
  key: string; // PEM (unencrypted)
  cert: string; // PEM
  pfx: Buffer; // PKCS#12 protected by `passphrase`
  passphrase: string;
  /** `X509Certificate.fingerprint256` format ("AB:CD:..."), what the fake APNs allow-lists. */
  fingerprint256: string;
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'tidings-tls-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let serverTlsPromise: Promise<ServerTls> | undefined;

/** One self-signed P-256 server certificate per process (cheap to share, ~30 ms to make). */
export function serverTls(): Promise<ServerTls> {
  serverTlsPromise ??= withTempDir(async (dir) => {
    const cnf = join(dir, 'server.cnf');
    await writeFile(
      cnf,
      [
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = ext',
        'prompt = no',
        '[dn]',
        'CN = tidings fake vendor',
        '[ext]',
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = critical,digitalSignature,keyCertSign',
        'extendedKeyUsage = serverAuth',
        `subjectAltName = ${FAKE_SERVER_NAMES.join(',')}`,
        '',
      ].join('\n'),
    );
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '2', '-config', cnf]);
    const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
    return { key, cert, ca: cert };
  });
  return serverTlsPromise;
}

/**
 * An APNs-style client certificate: RSA like Apple's, subject naming the
 * bundle id, and both Apple push OIDs (sandbox + production), which node-apn
 * checks against the configured environment before connecting.
 */
export function makeApnsClientCert(bundleId: string, passphrase = 'test-pass-phrase'): Promise<ClientCert> {
  return withTempDir(async (dir) => {
    const cnf = join(dir, 'client.cnf');
    await writeFile(
      cnf,
      [
        '[req]',
        'distinguished_name = dn',
        'x509_extensions = ext',
        'prompt = no',
        '[dn]',
        `UID = ${bundleId}`,
        `CN = Apple Push Services: ${bundleId}`,
        'OU = TEAM123456',
        'O = Tidings Test',
        'C = US',
        '[ext]',
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = clientAuth',
        '1.2.840.113635.100.6.3.1 = ASN1:NULL',
        '1.2.840.113635.100.6.3.2 = ASN1:NULL',
        '',
      ].join('\n'),
    );
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    const pfxPath = join(dir, 'cert.p12');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath,
      '-days', '2', '-config', cnf]);
    // Passphrase via env so it does not show up in the process list.
    await run('openssl', ['pkcs12', '-export', '-inkey', keyPath, '-in', certPath, '-out', pfxPath,
      '-passout', 'env:TIDINGS_P12_PASS'], { env: { ...process.env, TIDINGS_P12_PASS: passphrase } });
    const [key, cert, pfx] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8'), readFile(pfxPath)]);
    return { key, cert, pfx, passphrase, fingerprint256: new X509Certificate(cert).fingerprint256 };
  });
}

/** Both fakes listen the same way: loopback only, a given or free port; resolves the bound port. */
export async function listenOnLoopback(server: import('node:net').Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
