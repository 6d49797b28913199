// Herald's frames as a subscriber sends and reads them (docs/PROTOCOL.md):
// a 4-byte big-endian length (of what follows it), a type byte, a flags
// byte, the body. Message ids are uint64 and carry their shard in the top
// byte, so they are bigints here.

export const PROTOCOL_VERSION = 2;

export const FrameType = {
  Hello: 0x01,
  Welcome: 0x02,
  Ping: 0x03,
  Pong: 0x04,
  Error: 0x05,
  Resume: 0x20,
  Push: 0x21,
  Ack: 0x22,
  Follow: 0x23,
  Unfollow: 0x24,
  OK: 0x25,
  Resumed: 0x26,
  Retracted: 0x27,
  Opened: 0x28,
  Consent: 0x29,
  Message: 0x2a,
} as const;

export const Flag = {
  /** RESUME: use the cursor the server stored for the user. */
  FromStored: 0x01,
  /** RESUMED: the page limit was reached; RESUME again. */
  More: 0x01,
  /** RESUMED: the cursor was older than the retained log. */
  HistoryMissed: 0x02,
  /** PUSH: the payload is S2-compressed (never sent to this SDK). */
  Compressed: 0x01,
  /** PUSH: the message is a notification; the payload is its template, link and fields. */
  Notification: 0x02,
  /** PUSH: the message is the account's reply to this user, within the service window. */
  Reply: 0x04,
  /** FOLLOW: the body ends with the follow's source. */
  Source: 0x01,
} as const;

export interface Frame {
  type: number;
  flags: number;
  body: Uint8Array;
}

/** MalformedFrame: the server sent bytes that are not a valid frame. */
export class MalformedFrame extends Error {
  override name = "MalformedFrame";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** frame builds one frame from its type, flags and body. */
export function frame(type: number, flags: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(6 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 2 + body.length);
  out[4] = type;
  out[5] = flags;
  out.set(body, 6);
  return out;
}

/** Writer appends big-endian fields to a growing body. */
class Writer {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  private n = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): this {
    this.room(1);
    this.view.setUint8(this.n, v);
    this.n += 1;
    return this;
  }
  u16(v: number): this {
    this.room(2);
    this.view.setUint16(this.n, v);
    this.n += 2;
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.view.setUint32(this.n, v);
    this.n += 4;
    return this;
  }
  u64(v: bigint): this {
    this.room(8);
    this.view.setBigUint64(this.n, v);
    this.n += 8;
    return this;
  }
  str8(s: string): this {
    const b = encoder.encode(s);
    if (b.length > 255) throw new Error(`herald: ${JSON.stringify(s)} is over 255 bytes`);
    this.u8(b.length);
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }
  str16(s: string): this {
    const b = encoder.encode(s);
    this.u16(b.length);
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** Reader takes big-endian fields off a body, failing on a short one. */
class Reader {
  private view: DataView;
  private n = 0;
  constructor(private body: Uint8Array, private what: string) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }
  private need(k: number): void {
    if (this.n + k > this.body.length) throw new MalformedFrame(`${this.what}: body cut short`);
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.n++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.n);
    this.n += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.n);
    this.n += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.n);
    this.n += 8;
    return v;
  }
  str(len: number): string {
    this.need(len);
    const s = decoder.decode(this.body.subarray(this.n, this.n + len));
    this.n += len;
    return s;
  }
  rest(): Uint8Array {
    const b = this.body.slice(this.n);
    this.n = this.body.length;
    return b;
  }
  done(): void {
    if (this.n !== this.body.length) throw new MalformedFrame(`${this.what}: trailing bytes`);
  }
}

export function hello(token: string): Uint8Array {
  return frame(FrameType.Hello, 0, new Writer().u8(PROTOCOL_VERSION).u32(0).str16(token).bytes());
}

export function resume(cursor: readonly bigint[], fromStored: boolean): Uint8Array {
  const w = new Writer().u8(cursor.length);
  for (const id of cursor) w.u64(id);
  return frame(FrameType.Resume, fromStored ? Flag.FromStored : 0, w.bytes());
}

export function ack(id: bigint): Uint8Array {
  return frame(FrameType.Ack, 0, new Writer().u64(id).bytes());
}

/** OPENED: the user opened broadcast id (counted once per user). */
export function opened(id: bigint): Uint8Array {
  return frame(FrameType.Opened, 0, new Writer().u64(id).bytes());
}

export function follow(unfollow: boolean, requestId: number, account: number, source = ""): Uint8Array {
  const w = new Writer().u32(requestId).u32(account);
  if (unfollow || source === "") return frame(unfollow ? FrameType.Unfollow : FrameType.Follow, 0, w.bytes());
  const b = encoder.encode(source);
  w.u8(b.length);
  return frame(FrameType.Follow, Flag.Source, concat(w.bytes(), b));
}

/** CONSENT operations (the op byte). */
export const ConsentOp = { Grant: 1, Ban: 2, Unban: 3 } as const;

/** CONSENT: the user grants, bans or unbans one of an account's consent templates. */
export function consent(requestId: number, account: number, op: number, template: string, count: number): Uint8Array {
  return frame(FrameType.Consent, 0, new Writer().u32(requestId).u32(account).u8(op).str8(template).u16(count).bytes());
}

/** MESSAGE: the user writes to an account it follows (1 to 2048 bytes). */
export function message(requestId: number, account: number, contentType: string, payload: Uint8Array): Uint8Array {
  return frame(FrameType.Message, 0, concat(new Writer().u32(requestId).u32(account).str8(contentType).bytes(), payload));
}

/** validName: a template name, 1 to 64 bytes of letters, digits, '-', '_', '.', ':'. */
export function validName(name: string): boolean {
  return /^[A-Za-z0-9._:-]{1,64}$/.test(name);
}

/** Notification is a notification's content: the template it fills, its link and its fields in order. */
export interface Notification {
  template: string;
  link: string;
  fields: Array<{ name: string; value: string }>;
}

/** decodeNotification reads the payload of a PUSH with the NOTIFICATION flag. */
export function decodeNotification(payload: Uint8Array): Notification {
  const r = new Reader(payload, "notification");
  const template = r.str(r.u8());
  const link = r.str(r.u16());
  const n = r.u8();
  const fields: Array<{ name: string; value: string }> = [];
  for (let i = 0; i < n; i++) {
    const name = r.str(r.u8());
    fields.push({ name, value: r.str(r.u16()) });
  }
  r.done();
  return { template, link, fields };
}

/** concat joins two byte arrays into a new one. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** validSource: 1 to 32 bytes of letters, digits, '-', '_', '.', ':'. */
export function validSource(source: string): boolean {
  return /^[A-Za-z0-9._:-]{1,32}$/.test(source);
}

export function ping(): Uint8Array {
  return frame(FrameType.Ping, 0);
}

export interface Welcome {
  version: number;
  user: number;
  heartbeatMs: number;
  maxFrame: number;
}

export function decodeWelcome(body: Uint8Array): Welcome {
  const r = new Reader(body, "WELCOME");
  const w = { version: r.u8(), user: r.u32(), heartbeatMs: r.u32(), maxFrame: r.u32() };
  r.done();
  return w;
}

export interface ErrorFrame {
  requestId: number;
  code: number;
  retryAtMs: bigint;
  text: string;
}

export function decodeError(body: Uint8Array): ErrorFrame {
  const r = new Reader(body, "ERROR");
  const requestId = r.u32();
  const code = r.u16();
  const retryAtMs = r.u64();
  const text = r.str(r.u16());
  r.done();
  return { requestId, code, retryAtMs, text };
}

export interface PushFrame {
  id: bigint;
  account: number;
  timeMs: bigint;
  contentType: string;
  payload: Uint8Array;
}

export function decodePush(body: Uint8Array): PushFrame {
  const r = new Reader(body, "PUSH");
  const id = r.u64();
  const account = r.u32();
  const timeMs = r.u64();
  const contentType = r.str(r.u8());
  return { id, account, timeMs, contentType, payload: r.rest() };
}

export interface ResumedFrame {
  count: number;
  last: bigint[];
}

export function decodeResumed(body: Uint8Array): ResumedFrame {
  const r = new Reader(body, "RESUMED");
  const count = r.u32();
  const n = r.u8();
  const last: bigint[] = [];
  for (let i = 0; i < n; i++) last.push(r.u64());
  r.done();
  return { count, last };
}

export function decodeOK(body: Uint8Array): number {
  const r = new Reader(body, "OK");
  const id = r.u32();
  r.done();
  return id;
}

export function decodeRetracted(body: Uint8Array): { id: bigint; account: number } {
  const r = new Reader(body, "RETRACTED");
  const out = { id: r.u64(), account: r.u32() };
  r.done();
  return out;
}

/**
 * FrameReader cuts a byte stream into frames. The server sends whole
 * frames in each WebSocket message, but a reader that buffers costs
 * nothing and keeps the SDK right on any transport.
 */
export class FrameReader {
  private buf = new Uint8Array(0);
  constructor(private maxFrame: number) {}

  feed(chunk: Uint8Array): Frame[] {
    let buf = chunk;
    if (this.buf.length > 0) {
      buf = new Uint8Array(this.buf.length + chunk.length);
      buf.set(this.buf);
      buf.set(chunk, this.buf.length);
    }
    const frames: Frame[] = [];
    let off = 0;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    while (buf.length - off >= 4) {
      const len = view.getUint32(off);
      if (len < 2) throw new MalformedFrame(`a frame length of ${len}`);
      if (len > this.maxFrame) throw new MalformedFrame(`a frame of ${len} bytes, over ${this.maxFrame}`);
      if (buf.length - off < 4 + len) break;
      frames.push({ type: buf[off + 4]!, flags: buf[off + 5]!, body: buf.slice(off + 6, off + 4 + len) });
      off += 4 + len;
    }
    this.buf = buf.slice(off);
    return frames;
  }
}
