import type { ClientFrame, ClientFrameOf, ServerFrame, ServerFrameOf } from './wire.ts';
import { TidingsError } from './errors.ts';

/** The reply that answers each request frame (docs/PROTOCOL.md, "Requests, replies and ref"). */
export interface ReplyTypes {
  logout: 'logged_out';
  ping: 'pong';
  group_create: 'group_created';
  group_join: 'ok';
  group_leave: 'ok';
  group_invite: 'ok';
  group_remove: 'ok';
  group_approve: 'ok';
  group_reject: 'ok';
  group_transfer: 'ok';
  group_set_role: 'ok';
  group_update: 'ok';
  group_dissolve: 'ok';
  group_members: 'group_members_list';
  read: 'ok';
  unread: 'unread_counts';
  push_register: 'push_registered';
  push_unregister: 'ok';
  call_invite: 'call_created';
  call_accept: 'ok';
  call_reject: 'ok';
  call_cancel: 'ok';
  call_end: 'ok';
  settings_get: 'settings';
  settings_update: 'settings';
  mute: 'settings';
  block: 'settings';
}
export type RequestType = keyof ReplyTypes;
/** A request frame as the app gives it: no `type` (the method says it), no `ref` (the client picks it). */
export type RequestFields<T extends RequestType> = Omit<ClientFrameOf<T>, 'type' | 'ref'>;
export type ReplyOf<T extends RequestType> = ServerFrameOf<ReplyTypes[T]>;

interface Pending {
  frame: ClientFrame;
  resolve: (reply: ServerFrame) => void;
  reject: (error: TidingsError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** The connection it was written on; undefined while it waits for one. */
  writtenOn: number | undefined;
}

/**
 * Requests in flight, matched to replies by `ref`. A request's timeout runs from the call, so a
 * request that waits for a connection (offline: 'wait') still fails in bounded time.
 */
export class Requests {
  #nextRef = 1;
  readonly #pending = new Map<string, Pending>();

  add(frame: ClientFrame, timeoutMs: number): { ref: string; reply: Promise<ServerFrame> } {
    const ref = `q${this.#nextRef++}`;
    const reply = new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref);
        reject(new TidingsError('timeout', `No reply to ${frame.type} within ${timeoutMs} ms.`, { request: frame.type }));
      }, timeoutMs);
      this.#pending.set(ref, { frame: { ...frame, ref } as ClientFrame, resolve, reject, timer, writtenOn: undefined });
    });
    return { ref, reply };
  }

  /** Requests not yet written on connection `connectionId`, oldest first; marks them written. */
  takeUnwritten(connectionId: number): ClientFrame[] {
    const out: ClientFrame[] = [];
    for (const pending of this.#pending.values()) {
      if (pending.writtenOn !== undefined) continue;
      pending.writtenOn = connectionId;
      out.push(pending.frame);
    }
    return out;
  }

  /** A reply or error carrying one of our refs settles its request; false for anything else. */
  settle(frame: ServerFrame): boolean {
    const ref = 'ref' in frame ? frame.ref : undefined;
    const pending = ref === undefined ? undefined : this.#pending.get(ref);
    if (!pending || ref === undefined) return false;
    this.#pending.delete(ref);
    clearTimeout(pending.timer);
    if (frame.type === 'error') pending.reject(TidingsError.fromFrame(frame, pending.frame.type));
    else pending.resolve(frame);
    return true;
  }

  fail(ref: string, error: TidingsError): void {
    const pending = this.#pending.get(ref);
    if (!pending) return;
    this.#pending.delete(ref);
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  /** The connection dropped: what was written on it may or may not have taken effect. */
  failWritten(error: (type: string) => TidingsError): void {
    for (const [ref, pending] of this.#pending) {
      if (pending.writtenOn !== undefined) this.fail(ref, error(pending.frame.type));
    }
  }

  failAll(error: (type: string) => TidingsError): void {
    for (const [ref, pending] of this.#pending) this.fail(ref, error(pending.frame.type));
  }
}
