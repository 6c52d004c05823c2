import { ERROR_CODES, ProtocolError, type ClientFrame, type ClientFrameType } from '../protocol/index.ts';
import { parseClientFrame } from '../protocol/validate.ts';
import type { FrameHandler, FrameHandlers, ServerContext } from './context.ts';
import { Session } from './sessions/session.ts';
import type { ConnectionListener, TransportConnection } from './transports/transport.ts';

const BEFORE_LOGIN = new Set(['login', 'ping']);
/** LIM-2: while draining, frames that would append to the log are refused (reads, acks and syncs still work). */
const APPENDING: ReadonlySet<ClientFrameType> = new Set<ClientFrameType>([
  'send', 'group_create', 'group_join', 'group_leave', 'group_invite', 'group_remove', 'group_approve', 'group_reject', 'group_transfer',
  'group_set_role', 'group_update', 'group_dissolve', 'read', 'call_invite', 'call_accept', 'call_reject', 'call_cancel', 'call_end',
]);

/** Rate-limit state of one connection (LIM-1); owned by the gateway. */
interface Flow {
  tokens: number;
  updatedAt: number;
  strikes: number;
  lastStrikeAt: number;
}

/**
 * Turns transport connections into sessions: frame size, rate limit, parsing, login gating and
 * dispatch to feature handlers. Every failure becomes an `error` frame; nothing here throws.
 */
export function createGateway(ctx: Pick<ServerContext, 'config' | 'sessions' | 'metrics' | 'logger' | 'lifecycle'>, handlers: FrameHandlers) {
  const { config, sessions, metrics, logger } = ctx;
  const limits = config.limits;
  const perIp = new Map<string, number>();

  function sendError(session: Session, error: unknown, ref?: string): void {
    const protocolError = error instanceof ProtocolError ? error : new ProtocolError('internal');
    if (!(error instanceof ProtocolError)) logger.error({ err: error, userId: session.userId }, 'handler failed');
    metrics.errorsSent.inc({ code: protocolError.code });
    session.send({
      type: 'error', ref: ref ?? protocolError.ref, code: protocolError.code, message: protocolError.message,
      retryable: ERROR_CODES[protocolError.code].retryable,
      ...(protocolError.retryAfterMs !== undefined ? { retryAfterMs: protocolError.retryAfterMs } : {}),
      ...(protocolError.details !== undefined ? { details: protocolError.details } : {}),
    });
  }

  /** Token bucket per connection; returns ms to wait, or 0 when the frame may pass. */
  function takeToken(flow: Flow, now: number): number {
    const elapsed = (now - flow.updatedAt) / 1000;
    flow.updatedAt = now;
    flow.tokens = Math.min(limits.frameBurst, flow.tokens + elapsed * limits.framesPerSecond);
    if (flow.tokens >= 1) {
      flow.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - flow.tokens) / limits.framesPerSecond) * 1000);
  }

  function dispatch(session: Session, frame: ClientFrame): void {
    metrics.framesReceived.inc({ type: frame.type });
    const ref = 'ref' in frame ? frame.ref : undefined;
    if (!session.identity && !BEFORE_LOGIN.has(frame.type)) {
      sendError(session, new ProtocolError('not_logged_in'), ref);
      return;
    }
    const handler = handlers[frame.type] as FrameHandler<typeof frame.type> | undefined;
    if (!handler) {
      sendError(session, new ProtocolError('unknown_type'), ref);
      return;
    }
    if (ctx.lifecycle.draining && APPENDING.has(frame.type)) {
      sendError(session, new ProtocolError('server_shutting_down'), ref);
      return;
    }
    try {
      const outcome = handler(session, frame as never);
      if (outcome) outcome.catch((error: unknown) => sendError(session, error, ref));
    } catch (error) {
      sendError(session, error, ref);
    }
  }

  function onConnection(connection: TransportConnection): ConnectionListener {
    const ip = connection.remoteAddress;
    const session = new Session(connection, {
      maxBufferedBytes: limits.maxBufferedBytes,
      onOverflow: (s) => {
        logger.warn({ userId: s.userId, buffered: s.connection.bufferedBytes() }, 'slow reader disconnected');
        sessions.end(s, 'slow_reader');
      },
    });
    const flow: Flow = { tokens: limits.frameBurst, updatedAt: Date.now(), strikes: 0, lastStrikeAt: 0 };
    metrics.connections.inc();
    const count = (perIp.get(ip) ?? 0) + 1;
    perIp.set(ip, count);
    sessions.track(session);
    if (count > limits.maxConnectionsPerIp || ctx.lifecycle.draining) {
      sendError(session, new ProtocolError(ctx.lifecycle.draining ? 'server_shutting_down' : 'too_many_connections'));
      sessions.end(session, 'rate_abuse', 'connection refused');
    }
    // Frames that arrive while login is still being verified wait for it, in order.
    let loginQueue: ClientFrame[] | undefined;

    const handle = (frame: ClientFrame) => {
      if (loginQueue) {
        loginQueue.push(frame);
        return;
      }
      if (frame.type === 'login' && !session.identity) {
        loginQueue = [];
        const run = handlers.login!(session, frame);
        Promise.resolve(run).catch((error: unknown) => sendError(session, error, frame.ref)).finally(() => {
          const queued = loginQueue ?? [];
          loginQueue = undefined;
          for (const next of queued) handle(next);
        });
        return;
      }
      dispatch(session, frame);
    };

    return {
      message(text, byteLength, binary) {
        if (session.closed) return;
        const now = Date.now();
        session.markSeen(now);
        const waitMs = takeToken(flow, now);
        if (waitMs > 0) {
          // Strikes count abuse within a window, not over the connection's whole life.
          if (now - flow.lastStrikeAt > limits.abuseWindowMs) flow.strikes = 0;
          flow.lastStrikeAt = now;
          flow.strikes += 1;
          if (flow.strikes > limits.abuseStrikes) {
            sessions.end(session, 'rate_abuse', 'rate limit abuse');
            return;
          }
          sendError(session, new ProtocolError('rate_limited', undefined, { retryAfterMs: waitMs }));
          return;
        }
        if (binary) return sendError(session, new ProtocolError('binary_not_supported'));
        if (byteLength > limits.maxFrameBytes) {
          return sendError(session, new ProtocolError('frame_too_large', `Frame is ${byteLength} bytes; the limit is ${limits.maxFrameBytes}.`));
        }
        let frame: ClientFrame;
        try {
          frame = parseClientFrame(text);
        } catch (error) {
          // Anything the validator throws besides a ProtocolError (e.g. a RangeError from a `type`
          // nested thousands of arrays deep) is still the client's malformed frame, not `internal`.
          return sendError(session, error instanceof ProtocolError ? error : new ProtocolError('bad_frame', 'The frame could not be validated.'));
        }
        handle(frame);
      },
      closed() {
        metrics.connections.dec();
        const left = (perIp.get(ip) ?? 1) - 1;
        if (left <= 0) perIp.delete(ip);
        else perIp.set(ip, left);
        sessions.end(session, 'closed');
      },
    };
  }

  return { onConnection };
}
