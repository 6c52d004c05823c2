/**
 * The one table of error codes a client can receive in an `error` frame.
 * Codes are stable API: clients switch on them, docs/PROTOCOL.md is checked against this table
 * by test/protocol/docs-drift.test.ts, so a code is never renamed, only added.
 */
export const ERROR_CODES = {
  bad_json: { retryable: false, meaning: 'The frame is not valid JSON (or not UTF-8 text).' },
  bad_frame: { retryable: false, meaning: 'The frame is JSON but does not match the schema of any frame; `details` says where.' },
  unknown_type: { retryable: false, meaning: 'The frame\'s `type` is not a client frame type.' },
  binary_not_supported: { retryable: false, meaning: 'Binary WebSocket frames are not accepted; send JSON text.' },
  frame_too_large: { retryable: false, meaning: 'The frame exceeds `limits.maxFrameBytes`.' },
  message_too_large: { retryable: false, meaning: 'The message content exceeds `limits.maxMessageBytes`.' },
  rate_limited: { retryable: true, meaning: 'Too many frames per second on this connection; wait `retryAfterMs`. Repeated abuse closes the connection.' },
  not_logged_in: { retryable: false, meaning: 'Only `login` and `ping` are accepted before a successful login.' },
  already_logged_in: { retryable: false, meaning: 'This connection is already logged in; open a new connection to switch users.' },
  token_invalid: { retryable: false, meaning: 'The login token is malformed or its signature does not verify.' },
  token_device_mismatch: { retryable: false, meaning: 'The login token is bound to another device id than the one logging in (or, with `auth.requireDeviceClaim`, to none).' },
  token_expired: { retryable: false, meaning: 'The login token has expired (beyond the allowed clock skew).' },
  too_many_connections: { retryable: true, meaning: 'A per-user or per-IP connection cap was reached.' },
  bad_cursor: { retryable: false, meaning: 'An `ack` or `sync` cursor is beyond the newest sequence this user has.' },
  not_group_member: { retryable: false, meaning: 'Only members may send to, read or list a group.' },
  group_not_found: { retryable: false, meaning: 'No group with that id exists.' },
  group_exists: { retryable: false, meaning: 'A group with that id already exists.' },
  group_full: { retryable: false, meaning: 'The group would exceed `limits.maxGroupMembers`.' },
  already_member: { retryable: false, meaning: 'The user is already a member of the group.' },
  group_invite_only: { retryable: false, meaning: 'The group takes new members by invitation only (`joinPolicy` `invite`).' },
  not_group_admin: { retryable: false, meaning: 'Only the group\'s owner or an admin may do this (and an admin may not act on the owner or another admin).' },
  not_group_owner: { retryable: false, meaning: 'Only the group\'s owner may do this (roles, transfer, dissolve).' },
  group_owner_must_transfer: { retryable: false, meaning: 'The owner cannot leave the group: transfer ownership first, or dissolve it.' },
  no_join_request: { retryable: false, meaning: 'That user has no pending join request in this group.' },
  bad_conversation: { retryable: false, meaning: 'The conversation id is malformed or not one of yours.' },
  bad_recipient: { retryable: false, meaning: 'The recipient is not a valid user id (or is yourself).' },
  blocked: { retryable: false, meaning: 'The recipient has blocked you; the message was not stored.' },
  idempotency_conflict: { retryable: false, meaning: 'The client message id was already used for a different message by this user.' },
  push_provider_unknown: { retryable: false, meaning: 'The push provider (registration kind) is not one this server knows.' },
  push_credential_unknown: { retryable: false, meaning: 'The push credential name is not configured on this server for that provider (or is over 32 characters).' },
  push_token_invalid: { retryable: false, meaning: 'The push token is empty, too long or has the wrong format for its provider.' },
  push_not_registered: { retryable: false, meaning: 'This device has no push registration to remove.' },
  call_not_found: { retryable: false, meaning: 'No call with that id exists.' },
  call_not_invitee: { retryable: false, meaning: 'Only an invitee may accept or reject this call.' },
  call_not_inviter: { retryable: false, meaning: 'Only the inviter may cancel this call.' },
  call_ended: { retryable: false, meaning: 'The call has already ended; it can no longer be answered.' },
  bad_settings: { retryable: false, meaning: 'A push setting is invalid (time zone, window, list size).' },
  forbidden: { retryable: false, meaning: 'The user may not perform this action.' },
  overloaded: { retryable: true, meaning: 'The server\'s writes are queued longer than `storage.maxAppendWaitMs`: nothing was stored; retry after `retryAfterMs` (a resend of a message already queued is answered, never refused).' },
  server_shutting_down: { retryable: true, meaning: 'The server is draining for shutdown; reconnect (to another node) and resend.' },
  internal: { retryable: true, meaning: 'An unexpected server error; the request had no effect and may be retried.' },
} as const satisfies Record<string, { retryable: boolean; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A protocol-level failure: becomes an `error` frame with this code; never crashes the server. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;
  /** The request's ref when it could be read from a frame that was otherwise rejected. */
  readonly ref: string | undefined;
  constructor(code: ErrorCode, message?: string, options: { details?: unknown; retryAfterMs?: number; ref?: string } = {}) {
    super(message ?? ERROR_CODES[code].meaning);
    this.name = 'ProtocolError';
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
    this.ref = options.ref;
  }
  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }
}
