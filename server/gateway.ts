import { ERROR_CODES, ProtocolError, type ClientFrame } from '../protocol/index.ts';
import { parseClientFrame } from '../protocol/validate.ts';
import type { FrameHandler, FrameHandlers, ServerContext } from './context.ts';
import { Session } from './sessions/session.ts';
import type { ConnectionListener, TransportConnection } from './transports/transport.ts';

const BEFORE_LOGIN = new Set(['login', 'ping']);
const STRIKE_WINDOW_MS = 10_000;

/**
 * Turns transport connections into sessions: frame size, rate limit, parsing, login gating and
 * dispatch to feature handlers. Every failure becomes an `error` frame; nothing here throws.
 */
export function createGateway(ctx: ServerContext, handlers: FrameHandlers) {
  const { config, registry, metrics, logger } = ctx;
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
  function takeToken(session: Session, now: number): number {
    const elapsed = (now - session.rateUpdatedAt) / 1000;
    session.rateUpdatedAt = now;
    session.rateTokens = Math.min(limits.frameBurst, session.rateTokens + elapsed * limits.framesPerSecond);
    if (session.rateTokens >= 1) {
      session.rateTokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - session.rateTokens) / limits.framesPerSecond) * 1000);
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
      burst: limits.frameBurst, maxBufferedBytes: limits.maxBufferedBytes,
      onOverflow: (s) => {
        logger.warn({ userId: s.userId, buffered: s.connection.bufferedBytes() }, 'slow reader disconnected');
        registry.end(s, 'slow_reader');
      },
    });
    metrics.connections.inc();
    const count = (perIp.get(ip) ?? 0) + 1;
    perIp.set(ip, count);
    registry.track(session);
    if (count > limits.maxConnectionsPerIp || ctx.state.draining) {
      sendError(session, new ProtocolError(ctx.state.draining ? 'server_shutting_down' : 'too_many_connections'));
      registry.end(session, 'rate_abuse', 'connection refused');
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
        session.lastSeenAt = now;
        const waitMs = takeToken(session, now);
        if (waitMs > 0) {
          // Strikes count abuse within a window, not over the connection's whole life.
          if (now - session.lastStrikeAt > STRIKE_WINDOW_MS) session.strikes = 0;
          session.lastStrikeAt = now;
          session.strikes += 1;
          if (session.strikes > limits.abuseStrikes) {
            registry.end(session, 'rate_abuse', 'rate limit abuse');
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
        registry.end(session, 'closed');
      },
    };
  }

  return { onConnection };
}
