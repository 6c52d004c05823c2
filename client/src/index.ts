/**
 * @tidings/client: the browser and Node client of the tidings IM server.
 * The wire protocol is docs/PROTOCOL.md; the frame and event types come from protocol/.
 */
export { TidingsClient, type TidingsClientOptions, type SendOptions } from './client.ts';
export { TidingsError, type TidingsErrorCode, type ClientErrorCode, type TidingsErrorOptions } from './errors.ts';
export { Backoff, type BackoffOptions } from './backoff.ts';
export { MemoryStore, LocalStorageStore, type TidingsStore, type StoredState, type OutboxEntry, type StorageLike, type LocalStorageStoreOptions } from './store.ts';
export type { OutboxStatus, SendResult } from './outbox.ts';
export type { AckOptions } from './acks.ts';
export type { RateLimit } from './connection.ts';
export type { TokenProvider, TokenContext } from './lifecycle.ts';
export type { ReplyTypes, RequestType, RequestFields, ReplyOf } from './requests.ts';
export type { WebSocketLike, WebSocketConstructor } from './socket.ts';
export type {
  TidingsEvents, ConnectionState, StateChange,
  MessageEvent, ReadEvent, GroupEvent, CallInvitedEvent, CallStateEvent,
} from './events.ts';
export { newClientMsgId, conversationFor } from './ids.ts';
export type {
  Content, Recipient, PushOptions, Platform, DeliveredEvent, ErrorCode, ClientFrame, ServerFrame, ServerFrameOf,
} from './wire.ts';
