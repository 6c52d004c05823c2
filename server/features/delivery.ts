import { ProtocolError, TERMINAL_CALL_STATES, parseConversation } from '../../protocol/index.ts';
import { isCallOver, withSeq, type AppendResult, type InboxEntry } from '../../storage/index.ts';
import type { FrameHandlers, ServerContext } from '../context.ts';
import type { Session } from '../sessions/session.ts';

function eventsFrame(parts: string[]): string {
  return `{"type":"events","events":[${parts.join(',')}]}`;
}

/** How long a heartbeat's head check waits for others to share its read. */
const HEAD_CHECK_COALESCE_MS = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const callIdOf = (conversation: string) => {
  const parsed = parseConversation(conversation);
  return parsed?.kind === 'call' ? parsed.callId : undefined;
};

/**
 * Delivery (SYNC-1..3). A session is `live` once its sync reached the head of its inbox; from
 * then on committed events the broker publishes are written straight from memory. The seam is
 * closed by checking the head seq synchronously when switching to live: anything committed while
 * paging is read again. A seq gap on the live path (a lost publication) is filled from the inbox.
 */
export function deliveryFeature(ctx: Pick<ServerContext, 'store' | 'hub' | 'broker' | 'sessions' | 'config' | 'logger'>): FrameHandlers {
  const { store, hub, broker, sessions, config } = ctx;
  // Pages wait for the socket to drain below this, so a long backlog is never all in memory (SYNC-3).
  const drainBelow = Math.floor(config.limits.maxBufferedBytes / 4);
  // A page is also cut by size, so one page can never by itself pass the slow-reader bound.
  const pageBytes = Math.max(1, Math.floor(config.limits.maxBufferedBytes / 4));

  async function waitForDrain(session: Session): Promise<void> {
    while (!session.closed && session.connection.bufferedBytes() > drainBelow) await sleep(5);
  }

  /**
   * MSG-3: a device catching up must never ring for a call that is already over. For such calls
   * the page keeps only the final call_state; seqs of the dropped events are simply skipped
   * (the cursor is the highest seq received, gaps included).
   */
  async function withoutStaleRings(page: InboxEntry[]): Promise<InboxEntry[]> {
    const callIds = page.filter((e) => e.event.kind === 'call_invited' || e.event.kind === 'call_state').map((e) => callIdOf(e.event.conversation)!);
    if (callIds.length === 0) return page;
    const calls = await store.readModels.callsByIds(callIds);
    return page.filter((entry) => {
      const { kind, conversation } = entry.event;
      if (kind !== 'call_invited' && kind !== 'call_state') return true;
      const call = calls.get(callIdOf(conversation)!);
      if (!call || !isCallOver(call)) return true;
      return kind === 'call_state' && TERMINAL_CALL_STATES.has((JSON.parse(entry.event.json) as { state: string }).state);
    });
  }

  /** Page the inbox after the session's deliveredSeq until the head, then go live. */
  async function pump(session: Session, framing: { ref?: string; asSync: boolean }, limit: number): Promise<void> {
    const state = session.delivery;
    const generation = ++state.syncGeneration;
    state.mode = 'syncing';
    for (;;) {
      const page = await store.log.readInbox(session.userId, state.deliveredSeq, limit);
      if (session.closed || generation !== state.syncGeneration) return;
      if (page.length > 0) {
        const visible = new Set(await withoutStaleRings(page));
        if (session.closed || generation !== state.syncGeneration) return;
        const parts: string[] = [];
        let bytes = 0;
        let lastSeq = state.deliveredSeq;
        for (const entry of page) {
          if (parts.length > 0 && bytes + entry.event.json.length > pageBytes) break;
          lastSeq = entry.seq;
          if (!visible.has(entry)) continue;
          const text = withSeq(entry.seq, entry.event.json);
          bytes += text.length;
          parts.push(text);
        }
        const cut = lastSeq !== page[page.length - 1]!.seq;
        state.deliveredSeq = lastSeq;
        const hasMore = cut || page.length === limit;
        // A page that only skipped stale call events is not sent: every sync_page carries events.
        if (parts.length > 0) session.sendText(framing.asSync
          ? `{"type":"sync_page",${framing.ref !== undefined ? `"ref":${JSON.stringify(framing.ref)},` : ''}"events":[${parts.join(',')}],"hasMore":${hasMore}}`
          : eventsFrame(parts));
        await waitForDrain(session);
        if (session.closed || generation !== state.syncGeneration) return;
        if (hasMore) continue;
      }
      const head = store.log.cachedHeadSeq(session.userId) ?? await store.log.headSeq(session.userId);
      if (generation !== state.syncGeneration) return;
      if (head <= state.deliveredSeq) {
        state.mode = 'live';
        if (framing.asSync) session.send({ type: 'sync_done', ref: framing.ref, headSeq: state.deliveredSeq });
        return;
      }
    }
  }

  function catchUp(session: Session): void {
    pump(session, { asSync: false }, config.limits.syncPageSize).catch((error: unknown) => {
      ctx.logger.error({ err: error, userId: session.userId }, 'catch-up failed');
      sessions.end(session, 'error');
    });
  }

  broker.onPublication((results: readonly AppendResult[]) => {
    const outgoing = new Map<Session, string[]>();
    for (const result of results) {
      for (const [user, seq] of result.seqs) {
        for (const session of hub.sessionsOf(user)) {
          const state = session.delivery;
          if (state.mode !== 'live' || seq <= state.deliveredSeq) continue;
          if (seq !== state.deliveredSeq + 1) {
            catchUp(session);
            continue;
          }
          state.deliveredSeq = seq;
          const parts = outgoing.get(session);
          const text = withSeq(seq, result.event.json);
          if (parts) parts.push(text);
          else outgoing.set(session, [text]);
        }
      }
    }
    // A burst (a busy large group) is split into frames of bounded size, so a reader that keeps
    // up is never dropped because one frame alone passed the slow-reader bound.
    for (const [session, parts] of outgoing) {
      let from = 0;
      let bytes = 0;
      for (let i = 0; i < parts.length; i++) {
        if (i > from && bytes + parts[i]!.length > pageBytes) {
          session.sendText(eventsFrame(parts.slice(from, i)));
          from = i;
          bytes = 0;
        }
        bytes += parts[i]!.length;
      }
      session.sendText(eventsFrame(from === 0 ? parts : parts.slice(from)));
    }
  });

  /**
   * The head a device's claim (a sync cursor, an ack) is checked against. A device may have got
   * seqs from another node that this node has not heard of yet (a publication late or lost), so
   * in a cluster a claim beyond the cached head is checked against the database before refusal.
   * On one node the cache is the head this process applied, and only that may be claimed.
   */
  async function headFor(userId: string, claimed: number): Promise<number> {
    const head = store.log.cachedHeadSeq(userId) ?? await store.log.headSeq(userId);
    return claimed > head && broker.atMostOnce ? store.log.freshHeadSeq(userId) : head;
  }

  // The heartbeat head checks of all sessions pinging within a few milliseconds share one read:
  // thousands of devices ping every interval, and a read each would be a round trip each.
  const headChecks = new Set<Session>();
  let headCheckTimer: ReturnType<typeof setTimeout> | undefined;
  function checkHeads(): void {
    headCheckTimer = undefined;
    const due = [...headChecks].filter((s) => !s.closed);
    headChecks.clear();
    if (due.length === 0) return;
    store.log.freshHeadSeqs([...new Set(due.map((s) => s.userId))]).then((heads) => {
      for (const session of due) {
        if (session.delivery.mode === 'live' && (heads.get(session.userId) ?? 0) > session.delivery.deliveredSeq) catchUp(session);
      }
    }, (error: unknown) => ctx.logger.warn({ err: error, sessions: due.length }, 'head check failed'));
  }

  return {
    async sync(session, frame) {
      const after = frame.after ?? session.delivery.ackedSeq;
      const head = await headFor(session.userId, after);
      if (after > head) throw new ProtocolError('bad_cursor', `after=${after} is beyond your newest seq ${head}.`);
      session.delivery.deliveredSeq = after;
      await pump(session, { ref: frame.ref, asSync: true }, Math.min(frame.limit ?? config.limits.syncPageSize, config.limits.syncPageSize));
    },

    ping(session, frame) {
      session.send({ type: 'pong', ref: frame.ref, t: frame.t, serverTime: Date.now() });
      // A broker between nodes may lose a publication, and with it the last event of a quiet
      // stretch: at each heartbeat a live session is checked against the database's head.
      if (!broker.atMostOnce || !session.identity || session.delivery.mode !== 'live') return;
      headChecks.add(session);
      if (!headCheckTimer) {
        headCheckTimer = setTimeout(checkHeads, HEAD_CHECK_COALESCE_MS);
        headCheckTimer.unref();
      }
    },

    async ack(session, frame) {
      if (frame.seq <= session.delivery.ackedSeq) return;
      const head = await headFor(session.userId, frame.seq);
      if (frame.seq > head) throw new ProtocolError('bad_cursor', `seq ${frame.seq} is beyond your newest seq ${head}.`);
      session.delivery.ackedSeq = frame.seq;
      store.cursors.saveAckedSeq(session.userId, session.identity!.deviceId, frame.seq);
    },
  };
}
