import { Cursor } from "./cursor.js";
import { ErrorCode, HeraldError, fromCloseCode } from "./errors.js";
import * as wire from "./wire.js";

/** Message is one broadcast received. */
export interface Message {
  /** The message id: a bigint, as ids carry their shard in the top byte. */
  id: bigint;
  account: number;
  time: Date;
  contentType: string;
  payload: Uint8Array;
  /** text decodes the payload as UTF-8. */
  text(): string;
  /**
   * notification is set for a notification (a template message): its
   * template, link and fields. Its payload is the encoded notification.
   */
  notification?: wire.Notification;
  /** reply: the account's reply to this user, within the service window a write opened. */
  reply: boolean;
}

/** Retraction says the account withdrew broadcast id: remove it if shown. */
export interface Retraction {
  id: bigint;
  account: number;
}

/**
 * CursorStore keeps the cursor between runs of the application: the
 * Subscriber saves it after every message the application has handled and
 * loads it on start.
 */
export interface CursorStore {
  load(): string | null | Promise<string | null>;
  save(cursor: string): void | Promise<void>;
}

/** localStorageStore keeps the cursor in the browser's localStorage. */
export function localStorageStore(key = "herald.cursor"): CursorStore {
  return {
    load: () => globalThis.localStorage.getItem(key),
    save: (cursor) => globalThis.localStorage.setItem(key, cursor),
  };
}

/** memoryStore keeps the cursor in memory (tests, or a store of your own). */
export function memoryStore(initial = ""): CursorStore & { value: string } {
  const store = {
    value: initial,
    load: () => store.value,
    save: (cursor: string) => {
      store.value = cursor;
    },
  };
  return store;
}

export type State = "connecting" | "catching-up" | "live" | "reconnecting" | "closed";

export interface SubscriberOptions {
  /** The client listener as a WebSocket URL: ws://host:7400/ (wss:// behind a TLS proxy). */
  url: string;
  /** The client token; or tokenProvider, asked on every connect. */
  token?: string;
  tokenProvider?: () => string | Promise<string>;
  /**
   * onMessage handles one broadcast. Messages come one at a time in id
   * order within each shard; the next waits until the promise it returns
   * settles. A message counts as handled (and is acknowledged and saved in
   * the store) once onMessage has returned or resolved.
   */
  onMessage: (m: Message) => void | Promise<void>;
  /** onRetracted is told of withdrawn broadcasts, in line with onMessage. */
  onRetracted?: (r: Retraction) => void | Promise<void>;
  /** Where the cursor is kept: localStorage in a browser, memory elsewhere. */
  store?: CursorStore;
  /** With nothing in the store, start from the server's stored acknowledgements (FROM_STORED). */
  storedCursor?: boolean;
  onStateChange?: (s: State) => void;
  /** onError is told of every error, retried or not. */
  onError?: (e: Error) => void;
  /** onHistoryMissed: broadcasts addressed to the user were removed before it caught up, or the server's log is not the one the cursor came from. */
  onHistoryMissed?: () => void;
  /** How often handled messages are acknowledged (1000 ms). */
  ackEveryMs?: number;
  /** Reconnect delays, jittered (50 ms to 5000 ms). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** The WebSocket class (globalThis.WebSocket). */
  WebSocket?: typeof WebSocket;
}

interface Pending {
  resolve(): void;
  reject(e: Error): void;
}

type Item = { kind: "message"; m: Message } | { kind: "retraction"; r: Retraction };

const textDecoder = new TextDecoder();

/**
 * Subscriber keeps one user's connection: catch-up on every connect from
 * the cursor, live pushes after, each message handed to onMessage once, in
 * id order within each shard, reconnecting with jittered backoff. It
 * acknowledges only what the application has handled.
 */
export class Subscriber {
  private readonly opts: Required<Pick<SubscriberOptions, "ackEveryMs" | "minBackoffMs" | "maxBackoffMs">> & SubscriberOptions;
  private readonly store: CursorStore;
  private readonly WS: typeof WebSocket;
  private ws: WebSocket | undefined;
  private reader = new wire.FrameReader(1 << 20);
  private delivered = new Cursor();
  private covered = new Cursor();
  private handledCursor = new Cursor();
  private acked = new Cursor();
  private openings: bigint[] = [];
  private fromStored = false;
  private queue: Item[] = [];
  private pumping = false;
  private pending = new Map<number, Pending>();
  private nextRequest = 0;
  private pongWaiters: Array<() => void> = [];
  private lastError: HeraldError | undefined;
  private timers: ReturnType<typeof setInterval>[] = [];
  private heartbeatMs = 30000;
  private lastReceived = 0;
  private attempts = 0;
  private stateValue: State = "connecting";
  private userValue = 0;
  private closing = false;
  private firstLive: { resolve(): void; reject(e: Error): void; settled: boolean } | undefined;
  private everOpened = false;

  private constructor(opts: SubscriberOptions) {
    this.opts = { ackEveryMs: 1000, minBackoffMs: 50, maxBackoffMs: 5000, ...opts };
    this.store = opts.store ?? (globalThis.localStorage ? localStorageStore() : memoryStore());
    const WS = opts.WebSocket ?? globalThis.WebSocket;
    if (!WS) throw new Error("no WebSocket: pass options.WebSocket (Node 20: run with --experimental-websocket)");
    this.WS = WS;
  }

  /**
   * connect starts a Subscriber and resolves once its first catch-up is
   * done and live pushes flow. It rejects if the first connection cannot
   * be made or is refused for good (a bad token: 3xxx); after that it
   * reconnects by itself.
   */
  static async connect(opts: SubscriberOptions): Promise<Subscriber> {
    const s = new Subscriber(opts);
    const stored = (await s.store.load()) ?? "";
    const start = Cursor.parse(stored);
    s.delivered = start.clone();
    s.handledCursor = start.clone();
    s.fromStored = stored === "" && !!opts.storedCursor;
    const live = new Promise<void>((resolve, reject) => {
      s.firstLive = { resolve, reject, settled: false };
    });
    await s.dial();
    await live;
    return s;
  }

  /** The user the server authenticated. */
  get user(): number {
    return this.userValue;
  }

  get state(): State {
    return this.stateValue;
  }

  /** handled is where the application is: the cursor to store. */
  handled(): Cursor {
    return this.handledCursor.clone();
  }

  /**
   * follow makes the user follow account; it resolves once that is
   * durable. source, if given, is where the follow came from ("qr",
   * "search", "share", …: 1 to 32 letters, digits, '-', '_', '.', ':'),
   * counted in the account's daily figures.
   */
  follow(account: number, source = ""): Promise<void> {
    if (source !== "" && !wire.validSource(source)) return Promise.reject(new Error(`herald: not a source: ${JSON.stringify(source)}`));
    return this.request(false, account, source);
  }

  unfollow(account: number): Promise<void> {
    return this.request(true, account);
  }

  /**
   * grant allows account to send the user count more notifications (1 to
   * 100) of its consent template; it resolves once that is durable.
   * Rejecting needs nothing sent: without a grant the account cannot send.
   */
  grant(account: number, template: string, count = 1): Promise<void> {
    if (!Number.isInteger(count) || count < 1 || count > 100) return Promise.reject(new Error(`herald: a grant allows 1 to 100 notifications, not ${count}`));
    return this.consent(account, wire.ConsentOp.Grant, template, count);
  }

  /** ban refuses account's template for good (grants left are dropped) until unban. */
  ban(account: number, template: string): Promise<void> {
    return this.consent(account, wire.ConsentOp.Ban, template, 0);
  }

  /** unban lifts a ban; the account needs a new grant to send. */
  unban(account: number, template: string): Promise<void> {
    return this.consent(account, wire.ConsentOp.Unban, template, 0);
  }

  /**
   * write sends the user's message (text, or 1 to 2048 bytes) to an
   * account it follows; it resolves once durable and opens the account's
   * service window for replies, which arrive with reply set.
   */
  write(account: number, message: string | Uint8Array, contentType = "text/plain"): Promise<void> {
    const payload = typeof message === "string" ? new TextEncoder().encode(message) : message;
    if (payload.length < 1 || payload.length > 2048) return Promise.reject(new Error(`herald: a message is 1 to 2048 bytes, not ${payload.length}`));
    return this.send((id) => wire.message(id, account, contentType, payload));
  }

  private consent(account: number, op: number, template: string, count: number): Promise<void> {
    if (!wire.validName(template)) return Promise.reject(new Error(`herald: not a template name: ${JSON.stringify(template)}`));
    return this.send((id) => wire.consent(id, account, op, template, count));
  }

  /**
   * close acknowledges what the application has handled, waits (up to a
   * second) for the server to have it, and closes. Messages not yet
   * handled are neither handed over nor acknowledged.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.queue = [];
    this.stopTimers();
    const ws = this.ws;
    if (ws && ws.readyState === this.WS.OPEN) {
      this.sendAcks();
      const pong = new Promise<void>((resolve) => {
        this.pongWaiters.push(resolve);
        setTimeout(resolve, 1000);
      });
      ws.send(wire.ping());
      await pong;
      ws.close(1000);
    }
    this.failPending(new Error("herald: closed"));
    this.setState("closed");
  }

  private setState(s: State): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    this.opts.onStateChange?.(s);
  }

  private async dial(): Promise<void> {
    const token = this.opts.tokenProvider ? await this.opts.tokenProvider() : this.opts.token;
    if (token === undefined) throw new Error("herald: no token (options.token or options.tokenProvider)");
    if (this.closing) return;
    this.reader = new wire.FrameReader(1 << 20);
    this.lastError = undefined;
    const ws = new this.WS(this.opts.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      this.everOpened = true;
      this.lastReceived = Date.now();
      this.setState("catching-up");
      // RESUME goes with HELLO: one round trip.
      ws.send(wire.concat(wire.hello(token), wire.resume(this.resumeFrom(), this.fromStored)));
      this.fromStored = false;
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (ws !== this.ws) return;
      this.lastReceived = Date.now();
      try {
        for (const f of this.reader.feed(new Uint8Array(ev.data as ArrayBuffer))) this.handle(ws, f);
      } catch (e) {
        this.report(e as Error);
        ws.close(4000 + 1); // not a Herald code: the SDK's own, reconnect
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      if (ws !== this.ws) return;
      this.ws = undefined;
      this.onClosed(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // onclose follows with the details there are.
    };
  }

  private resumeFrom(): bigint[] {
    return this.delivered.clone().merge(this.covered).toArray();
  }

  private handle(ws: WebSocket, f: wire.Frame): void {
    switch (f.type) {
      case wire.FrameType.Welcome: {
        const w = wire.decodeWelcome(f.body);
        this.userValue = w.user;
        this.heartbeatMs = w.heartbeatMs;
        this.startTimers(ws);
        break;
      }
      case wire.FrameType.Push: {
        const p = wire.decodePush(f.body);
        if (this.delivered.covers(p.id)) return; // a duplicate after reconnecting
        if (f.flags & wire.Flag.Compressed) throw new wire.MalformedFrame("a compressed PUSH, which HELLO did not ask for");
        this.delivered.advance(p.id);
        const payload = p.payload;
        const m: Message = {
          id: p.id,
          account: p.account,
          time: new Date(Number(p.timeMs)),
          contentType: p.contentType,
          payload,
          text: () => textDecoder.decode(payload),
          reply: (f.flags & wire.Flag.Reply) !== 0,
        };
        if (f.flags & wire.Flag.Notification) m.notification = wire.decodeNotification(payload);
        this.enqueue({ kind: "message", m });
        break;
      }
      case wire.FrameType.Retracted:
        this.enqueue({ kind: "retraction", r: wire.decodeRetracted(f.body) });
        break;
      case wire.FrameType.Resumed: {
        const r = wire.decodeResumed(f.body);
        if (f.flags & wire.Flag.HistoryMissed) this.opts.onHistoryMissed?.();
        this.covered.merge(new Cursor(r.last));
        if (f.flags & wire.Flag.More) {
          ws.send(wire.resume(this.resumeFrom(), false));
          return;
        }
        this.attempts = 0;
        this.setState("live");
        if (this.firstLive && !this.firstLive.settled) {
          this.firstLive.settled = true;
          this.firstLive.resolve();
        }
        break;
      }
      case wire.FrameType.OK: {
        const id = wire.decodeOK(f.body);
        this.pending.get(id)?.resolve();
        this.pending.delete(id);
        break;
      }
      case wire.FrameType.Error: {
        const m = wire.decodeError(f.body);
        const err = new HeraldError(m.code, m.text, Number(m.retryAtMs));
        if (m.requestId === 0) {
          this.lastError = err; // the close follows
          return;
        }
        this.pending.get(m.requestId)?.reject(err);
        this.pending.delete(m.requestId);
        break;
      }
      case wire.FrameType.Pong: {
        const waiters = this.pongWaiters;
        this.pongWaiters = [];
        for (const w of waiters) w();
        break;
      }
      case wire.FrameType.Ping:
        break;
      default:
        throw new wire.MalformedFrame(`an unexpected frame type ${f.type}`);
    }
  }

  private enqueue(item: Item): void {
    if (this.closing) return;
    this.queue.push(item);
    void this.pump();
  }

  // pump hands the queue to the application one item at a time.
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closing) {
        const item = this.queue.shift()!;
        try {
          if (item.kind === "message") {
            await this.opts.onMessage(item.m);
            this.handledCursor.advance(item.m.id);
            await this.store.save(this.handledCursor.toString());
          } else {
            await this.opts.onRetracted?.(item.r);
          }
        } catch (e) {
          // The application failed it: not handled, so not acknowledged;
          // the next connect replays it.
          this.report(e as Error);
          this.queue = [];
          this.delivered = this.handledCursor.clone();
          this.covered = new Cursor();
          this.ws?.close(4000 + 1);
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private startTimers(ws: WebSocket): void {
    this.stopTimers();
    this.acked = new Cursor();
    this.timers.push(
      setInterval(() => {
        if (ws !== this.ws || ws.readyState !== this.WS.OPEN) return;
        if (Date.now() - this.lastReceived > 2 * this.heartbeatMs) {
          ws.close(4000 + 1); // dead: reconnect
          return;
        }
        ws.send(wire.ping());
      }, this.heartbeatMs),
      setInterval(() => this.sendAcks(), this.opts.ackEveryMs),
    );
  }

  private stopTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  // sendAcks acknowledges, shard by shard, what was handled since the
  // last, and sends the openings not sent yet.
  private sendAcks(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== this.WS.OPEN) return;
    for (const id of this.handledCursor.toArray()) {
      if (!this.acked.covers(id)) ws.send(wire.ack(id));
    }
    this.acked = this.handledCursor.clone();
    for (const id of this.openings) ws.send(wire.opened(id));
    this.openings = [];
  }

  /**
   * opened tells the server the application opened (showed, read) message
   * id: it counts once per user in the broadcast's opened figure, which
   * its publisher sees (never who opened it). It is sent with the next
   * acknowledgements (within ackEveryMs, or on close).
   */
  opened(id: bigint): void {
    if (this.openings.length >= 4096) this.openings.shift();
    this.openings.push(id);
  }

  private request(unfollow: boolean, account: number, source = ""): Promise<void> {
    return this.send((id) => wire.follow(unfollow, id, account, source));
  }

  /** send writes the request build makes for a new request id and resolves on its OK. */
  private send(build: (id: number) => Uint8Array): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState !== this.WS.OPEN) return Promise.reject(new Error("herald: not connected; try again"));
    this.nextRequest = (this.nextRequest % 0xffffffff) + 1; // 0 is reserved
    const id = this.nextRequest;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      ws.send(build(id));
    });
  }

  private failPending(e: Error): void {
    const pending = this.pending;
    this.pending = new Map();
    for (const p of pending.values()) p.reject(e);
  }

  private report(e: Error): void {
    this.opts.onError?.(e);
  }

  private onClosed(closeCode: number, reason: string): void {
    this.stopTimers();
    if (this.closing) return;
    const code = this.lastError?.code ?? fromCloseCode(closeCode);
    const err = this.lastError ?? (code ? new HeraldError(code, reason) : new Error(`herald: connection closed (${closeCode}${reason ? " " + reason : ""})`));
    this.failPending(new Error(`herald: connection lost: ${err.message}`));
    this.report(err);
    const permanent = err instanceof HeraldError && err.permanent;
    if (permanent || !this.everOpened) {
      this.closing = true;
      this.setState("closed");
      if (this.firstLive && !this.firstLive.settled) {
        this.firstLive.settled = true;
        this.firstLive.reject(err);
      }
      return;
    }
    if (code === ErrorCode.CURSOR_AHEAD) {
      // The log is not the one the cursor came from: start over.
      this.delivered = new Cursor();
      this.covered = new Cursor();
      this.handledCursor = new Cursor();
      void this.store.save("");
      this.opts.onHistoryMissed?.();
    }
    this.setState("reconnecting");
    const ceiling = Math.min(this.opts.maxBackoffMs, this.opts.minBackoffMs * 2 ** Math.min(this.attempts, 16));
    this.attempts++;
    const delay = this.opts.minBackoffMs + Math.random() * (ceiling - this.opts.minBackoffMs);
    setTimeout(() => {
      this.dial().catch((e: Error) => {
        this.report(e); // a token provider that failed: try again later
        this.onClosed(1006, e.message);
      });
    }, delay);
  }
}
