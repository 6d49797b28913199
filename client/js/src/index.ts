// Herald's subscriber SDK: a browser's (or Node's) WebSocket to Herald's
// client listener, speaking docs/PROTOCOL.md version 2.
export { Subscriber, localStorageStore, memoryStore } from "./subscriber.js";
export type { Message, Retraction, CursorStore, State, SubscriberOptions } from "./subscriber.js";
export { Cursor, shardOf, shardBase } from "./cursor.js";
export { HeraldError, ErrorCode, fromCloseCode } from "./errors.js";
export type { Notification } from "./wire.js";
export type { ErrorCodeName } from "./errors.js";
