// The error codes of docs/PROTOCOL.md ("Error codes"). The thousand says
// what to do: 1xxx the request failed and the connection stays; 2xxx the
// connection was closed, reconnect with backoff; 3xxx reconnecting fails
// the same way until the cause is fixed.

export const ErrorCode = {
  BAD_REQUEST: 1001,
  UNKNOWN_ACCOUNT: 1002,
  PAYLOAD_TOO_LARGE: 1003,
  FORBIDDEN: 1004,
  UNAVAILABLE: 1005,
  INTERNAL: 1006,
  UNKNOWN_MESSAGE: 1007,
  QUOTA_EXCEEDED: 1008,
  UNKNOWN_TAG: 1009,
  TAG_EXISTS: 1010,
  LIMIT_EXCEEDED: 1011,
  STORAGE_FULL: 1012,
  UNKNOWN_TEMPLATE: 1013,
  CONSENT_REQUIRED: 1014,
  WINDOW_CLOSED: 1015,
  NOT_FOLLOWING: 1016,
  NOT_CONFIRMED: 1017,
  HEARTBEAT_TIMEOUT: 2001,
  SLOW_CONSUMER: 2002,
  SHUTTING_DOWN: 2003,
  CONNECTION_LIMIT: 2004,
  FRAME_TIMEOUT: 2005,
  OVERLOADED: 2006,
  CURSOR_AHEAD: 2007,
  MALFORMED_FRAME: 3001,
  FRAME_TOO_LARGE: 3002,
  UNSUPPORTED_VERSION: 3003,
  AUTH_FAILED: 3004,
  TOKEN_EXPIRED: 3005,
  TOKEN_INVALID: 3006,
  AUTH_TIMEOUT: 3007,
  UNEXPECTED_FRAME: 3008,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;

const names = new Map<number, ErrorCodeName>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name as ErrorCodeName]),
);

/** HeraldError is an ERROR frame, or a WebSocket close that maps one. */
export class HeraldError extends Error {
  override name = "HeraldError";
  /** The code's name (TOKEN_INVALID), or "UNKNOWN" for a code this SDK does not know. */
  readonly codeName: ErrorCodeName | "UNKNOWN";

  constructor(
    readonly code: number,
    message: string,
    /** When a retry can succeed (Unix ms), 0 when not applicable. */
    readonly retryAtMs = 0,
  ) {
    super(`${names.get(code) ?? "UNKNOWN"} (${code}): ${message}`);
    this.codeName = names.get(code) ?? "UNKNOWN";
  }

  /** permanent: reconnecting will fail the same way (3xxx). */
  get permanent(): boolean {
    return this.code >= 3000 && this.code < 4000;
  }
}

/**
 * fromCloseCode maps a WebSocket close code back to the Herald code: 40xx
 * is 20xx, 41xx is 30xx (docs/PROTOCOL.md, "WebSocket"); others are not
 * Herald's (undefined).
 */
export function fromCloseCode(code: number): number | undefined {
  if (code > 4000 && code < 4100) return 2000 + (code - 4000);
  if (code > 4100 && code < 4200) return 3000 + (code - 4100);
  return undefined;
}
