import { nanoid } from 'nanoid';
import { ProtocolError, type CallAction } from '../../protocol/index.ts';
import { isCallOver } from '../../storage/index.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';
import type { Session } from '../sessions/session.ts';

/**
 * Call signalling (CALL-1, CALL-2). Every transition is an event in the log; the call's state is
 * the read model those events project. Unanswered invitations are timed out by a server timer
 * that is re-armed from the read model at start, so a restart never leaves a call ringing.
 */
export function callsFeature(ctx: Pick<ServerContext, 'store' | 'config' | 'logger'>): { handlers: FrameHandlers; start(): Promise<void>; stop(): void } {
  const { store, config, logger } = ctx;
  const timers = new Map<string, NodeJS.Timeout>();
  let sweeper: NodeJS.Timeout | undefined;

  function schedule(callId: string, inviter: string, deadline: number): void {
    clearTimeout(timers.get(callId));
    const timer = setTimeout(() => {
      // The call stays in `timers` until its timeout is answered: under load an append waits in
      // the queue for longer than a sweep, and each sweep would otherwise append another one.
      store.log.append({ kind: 'call_state', sender: inviter, callId, action: 'timeout' }).catch((error: unknown) => {
        // Answered or cancelled in the meantime: nothing is ringing any more.
        if (!(error instanceof ProtocolError)) logger.error({ err: error, callId }, 'call timeout failed');
      }).finally(() => {
        if (timers.get(callId) === timer) timers.delete(callId);
      });
    }, Math.max(0, deadline - Date.now()));
    timer.unref();
    timers.set(callId, timer);
  }

  const answer = (action: CallAction) => async (session: Session, frame: { type: 'call_accept' | 'call_reject' | 'call_cancel' | 'call_end'; ref?: string | undefined; callId: string }): Promise<void> => {
    if (!store.readModels.activeCall(frame.callId)) {
      // Not known here yet (invited on another node): the database says whether it exists.
      const known = (await store.readModels.callsByIds([frame.callId])).get(frame.callId);
      if (!known) throw new ProtocolError('call_not_found');
      if (isCallOver(known)) throw new ProtocolError('call_ended');
    }
    const result = await store.log.append({
      kind: 'call_state', sender: session.userId, callId: frame.callId, action, byDevice: session.identity!.deviceId,
    });
    session.send({ type: 'ok', ref: frame.ref, for: frame.type, eventId: result.event.eventId });
  };

  return {
    handlers: {
      async call_invite(session, frame) {
        const invitees = [...new Set(frame.invitees)];
        if (invitees.length > config.calls.maxInvitees) throw new ProtocolError('bad_frame', `At most ${config.calls.maxInvitees} invitees per call.`);
        const timeoutSec = Math.min(frame.timeoutSec ?? config.calls.defaultTimeoutSec, config.calls.maxTimeoutSec);
        const deadline = Date.now() + timeoutSec * 1000;
        const callId = nanoid(16);
        const result = await store.log.append({
          kind: 'call_invited', sender: session.userId, callId, invitees, deadline,
          ...(frame.data !== undefined ? { data: frame.data } : {}), ...(frame.push ? { push: frame.push } : {}),
        });
        schedule(callId, session.userId, deadline);
        session.send({ type: 'call_created', ref: frame.ref, callId, eventId: result.event.eventId, deadline });
      },
      call_accept: answer('accept'),
      call_reject: answer('reject'),
      call_cancel: answer('cancel'),
      call_end: answer('end'),
    },
    async start() {
      for (const call of await store.readModels.ringingCalls()) schedule(call.callId, call.inviter, call.deadline);
      // Calls this node did not start (another node did, and may have died) are timed out by a
      // sweep too. Several nodes may try: the log takes one timeout (the next is refused, nothing ringing).
      sweeper = setInterval(() => {
        store.readModels.ringingCalls().then((calls) => {
          for (const call of calls) if (call.deadline <= Date.now() && !timers.has(call.callId)) schedule(call.callId, call.inviter, call.deadline);
        }, (error: unknown) => logger.warn({ err: error }, 'call sweep failed; the next one retries'));
      }, config.cluster.sweepMs);
      sweeper.unref();
    },
    stop() {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      if (sweeper) clearInterval(sweeper);
    },
  };
}
