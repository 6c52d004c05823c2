import type { ErrorCode, ServerFrameOf } from './wire.ts';

/**
 * Codes raised by the client itself, never sent by a server (the server's codes are in
 * protocol/errors.ts and docs/PROTOCOL.md#error-codes):
 * - `timeout`: no reply within the request's timeout; it may or may not have taken effect.
 * - `offline`: the client is not logged in and the request was made with `offline: 'fail'`.
 * - `connection_lost`: the connection dropped after the request was written; it may or may not
 *   have taken effect.
 * - `closed`: the client was closed (by the app, or for good: kicked, logged out, replaced,
 *   refused login) before the request could be answered.
 */
export type ClientErrorCode = 'timeout' | 'offline' | 'connection_lost' | 'closed';
export type TidingsErrorCode = ErrorCode | ClientErrorCode;

const RETRYABLE_CLIENT_CODES: Record<ClientErrorCode, boolean> = {
  timeout: true, offline: true, connection_lost: true, closed: false,
};

export interface TidingsErrorOptions {
  retryable?: boolean;
  retryAfterMs?: number;
  details?: unknown;
  /** The client frame type of the request that failed, e.g. `group_join`. */
  request?: string;
}

/** Every failure the client reports: a server `error` frame, or one of the client's own codes. */
export class TidingsError extends Error {
  readonly code: TidingsErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: unknown;
  readonly request: string | undefined;

  constructor(code: TidingsErrorCode, message: string, options: TidingsErrorOptions = {}) {
    super(message);
    this.name = 'TidingsError';
    this.code = code;
    this.retryable = options.retryable ?? (RETRYABLE_CLIENT_CODES as Record<string, boolean>)[code] ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details;
    this.request = options.request;
  }

  static fromFrame(frame: ServerFrameOf<'error'>, request?: string): TidingsError {
    return new TidingsError(frame.code, frame.message, {
      retryable: frame.retryable, retryAfterMs: frame.retryAfterMs, details: frame.details, request,
    });
  }
}
