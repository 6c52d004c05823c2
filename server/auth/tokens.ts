import { createHmac, timingSafeEqual } from 'node:crypto';
import { ProtocolError, isId } from '../../protocol/index.ts';

/**
 * Login tokens (AUTH-1), minted by the app's backend with a shared secret, like Tencent's
 * UserSig or ZEGO's token: `v1.<base64url JSON {sub, iat, exp, dev?}>.<base64url HMAC-SHA256>`.
 * Several secrets verify at once so a secret can be rotated without logging everyone out. `dev`,
 * when present, is the one device id the token may log in as (a backend that mints a token per
 * device).
 */
export interface TokenClaims {
  sub: string;
  iat: number;
  exp: number;
  dev?: string;
}

const PREFIX = 'v1';

function sign(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(`${PREFIX}.${body}`).digest();
}

export function mintToken(secret: string, userId: string, ttlSec: number, now = Date.now(), options: { deviceId?: string } = {}): string {
  const iat = Math.floor(now / 1000);
  const claims: TokenClaims = { sub: userId, iat, exp: iat + ttlSec, ...(options.deviceId !== undefined ? { dev: options.deviceId } : {}) };
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${PREFIX}.${body}.${sign(secret, body).toString('base64url')}`;
}

export function verifyToken(token: string, secrets: readonly string[], clockSkewSec: number, now = Date.now()): TokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX || !parts[1] || !parts[2]) throw new ProtocolError('token_invalid');
  const [, body, signature] = parts as [string, string, string];
  const given = Buffer.from(signature, 'base64url');
  // Buffer decoding is lenient (padding, `+/`, junk characters): accept only the canonical form,
  // so a token has exactly one spelling.
  if (given.toString('base64url') !== signature) throw new ProtocolError('token_invalid');
  // Compare against every secret without stopping early, so timing says nothing about which matched.
  let valid = false;
  for (const secret of secrets) {
    const expected = sign(secret, body);
    if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
  }
  if (!valid) throw new ProtocolError('token_invalid');
  let claims: Partial<TokenClaims>;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<TokenClaims>;
  } catch {
    throw new ProtocolError('token_invalid');
  }
  // `null` or a non-object body would otherwise throw a TypeError here; `1e999` parses to Infinity.
  if (typeof claims !== 'object' || claims === null
    || !isId(claims.sub) || (claims.dev !== undefined && !isId(claims.dev))
    || typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || !Number.isFinite(claims.exp) || !Number.isFinite(claims.iat)) {
    throw new ProtocolError('token_invalid');
  }
  const nowSec = now / 1000;
  if (claims.exp + clockSkewSec < nowSec) throw new ProtocolError('token_expired');
  if (claims.iat - clockSkewSec > nowSec) throw new ProtocolError('token_invalid', 'The token was issued in the future (check clocks).');
  return claims as TokenClaims;
}

/** Constant-time comparison of two secrets of any length (used for the admin API). */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'cmp').update(given).digest();
  const b = createHmac('sha256', 'cmp').update(expected).digest();
  return timingSafeEqual(a, b);
}
