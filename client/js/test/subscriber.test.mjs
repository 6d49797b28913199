import { test, after, before } from "node:test";
import assert from "node:assert/strict";

import { Subscriber, Cursor, HeraldError, ErrorCode, memoryStore, shardOf, shardBase } from "../dist/index.js";
import { startServer } from "./server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.close();
});

// collector hands a Subscriber's messages to the test as they come.
function collector() {
  const got = [];
  let wake = () => {};
  return {
    got,
    onMessage: (m) => {
      got.push(m);
      wake();
    },
    async until(n, ms = 10000) {
      const deadline = Date.now() + ms;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`received ${got.length} of ${n}`);
        await new Promise((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
      return got.slice(0, n);
    },
  };
}

test("catch-up, then live pushes, in order; follow and unfollow", async () => {
  const account = await server.account([1, 2]);
  const missed = [server.publish(account, "one"), server.publish(account, "two")];
  const c = collector();
  const store = memoryStore();
  const sub = await Subscriber.connect({ url: server.wsURL(), token: await server.token(1), store, onMessage: c.onMessage });
  assert.equal(sub.user, 1);
  assert.equal(sub.state, "live");
  await c.until(2);
  assert.deepEqual(c.got.map((m) => m.id), missed);
  assert.equal(c.got[0].text(), "one");
  const live = server.publish(account, "three");
  await c.until(3);
  assert.equal(c.got[2].id, live);
  assert.equal(c.got[2].text(), "three");
  // The store holds the handled cursor.
  assert.equal(store.value, new Cursor([live]).toString());
  const other = await server.account([]);
  await sub.follow(other.id, "qr");
  const stats = await server.admin("GET", `/v1/accounts/${other.id}/stats/followers`);
  const today = stats.days[stats.days.length - 1];
  assert.equal(today.new, 1);
  assert.deepEqual(today.by_source, { qr: 1 });
  await assert.rejects(sub.follow(other.id, "two words"));
  const fromOther = server.publish(other, "followed");
  await c.until(4);
  assert.equal(c.got[3].id, fromOther);
  await sub.unfollow(other.id);
  await assert.rejects(sub.follow(999999), (e) => e instanceof HeraldError && e.code === ErrorCode.UNKNOWN_ACCOUNT);
  await sub.close();
  assert.equal(sub.state, "closed");
});

test("resumes from the stored cursor and from the server's acknowledgements", async () => {
  const account = await server.account([3, 4]);
  const store = memoryStore();
  const c1 = collector();
  const first = await Subscriber.connect({ url: server.wsURL(), token: await server.token(3), store, onMessage: c1.onMessage });
  const a = server.publish(account, "a");
  await c1.until(1);
  first.opened(a);
  await first.close(); // acknowledges a, and says it was opened
  // The broadcast's reach counts both once the server saves them (every second).
  for (const deadline = Date.now() + 10000; ; ) {
    const r = await server.admin("GET", `/v1/accounts/${account.id}/broadcasts/${a}`);
    if (r.delivered === 1 && r.opened === 1) break;
    if (Date.now() > deadline) throw new Error(`reach stays ${JSON.stringify(r)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const b = server.publish(account, "b");
  const c2 = collector();
  const again = await Subscriber.connect({ url: server.wsURL(), token: await server.token(3), store, onMessage: c2.onMessage });
  await c2.until(1);
  assert.deepEqual(c2.got.map((m) => m.id), [b], "only what came after the stored cursor");
  await again.close();
  // A new device (nothing stored) with storedCursor starts after what the
  // server holds as acknowledged: after b.
  const c3 = collector();
  const device = await Subscriber.connect({ url: server.wsURL(), token: await server.token(3), store: memoryStore(), storedCursor: true, onMessage: c3.onMessage });
  const d = server.publish(account, "d");
  await c3.until(1);
  assert.deepEqual(c3.got.map((m) => m.id), [d]);
  assert.ok(a < b && b < d);
  await device.close();
});

test("survives a server restart with nothing lost and nothing twice", async () => {
  const account = await server.account([5]);
  const c = collector();
  const states = [];
  const sub = await Subscriber.connect({
    url: server.wsURL(), tokenProvider: () => server.token(5), store: memoryStore(), onMessage: c.onMessage,
    onStateChange: (s) => states.push(s), minBackoffMs: 20, maxBackoffMs: 200,
  });
  const before = server.publish(account, "before");
  await c.until(1);
  await server.restart();
  const afterIds = [server.publish(account, "after 1"), server.publish(account, "after 2")];
  await c.until(3, 20000);
  assert.deepEqual(c.got.map((m) => m.id), [before, ...afterIds]);
  assert.ok(states.includes("reconnecting"), `states ${states}`);
  await sub.close();
});

test("a bad token is refused for good, with its code", async () => {
  await assert.rejects(
    Subscriber.connect({ url: server.wsURL(), token: "not a token", store: memoryStore(), onMessage: () => {} }),
    (e) => e instanceof HeraldError && e.code === ErrorCode.TOKEN_INVALID && e.permanent,
  );
});

test("a message the application fails is not acknowledged and comes again", async () => {
  const account = await server.account([6]);
  let failOnce = true;
  const c = collector();
  const sub = await Subscriber.connect({
    url: server.wsURL(), token: await server.token(6), store: memoryStore(), minBackoffMs: 20, maxBackoffMs: 100,
    onMessage: (m) => {
      if (failOnce) {
        failOnce = false;
        throw new Error("the application failed");
      }
      c.onMessage(m);
    },
    onError: () => {},
  });
  const id = server.publish(account, "retry me");
  await c.until(1);
  assert.equal(c.got[0].id, id);
  await sub.close();
});

test("notifications arrive with their fields, after a grant for a consent template", async () => {
  const account = await server.account([501]);
  server.herald(account, "template", "define", "receipt", "--title", "Receipt", "--field", "amount,shop");
  server.herald(account, "template", "define", "code", "--title", "Code", "--field", "code", "--consent");
  const c = collector();
  const sub = await Subscriber.connect({ url: server.wsURL(), token: await server.token(501), store: memoryStore(), onMessage: c.onMessage });
  server.herald(account, "notify", "--template", "receipt", "--to", "501", "--field", "amount=9.99", "--field", "shop=茶", "--link", "https://x/1");
  const [receipt] = await c.until(1);
  assert.deepEqual(receipt.notification, { template: "receipt", link: "https://x/1", fields: [{ name: "amount", value: "9.99" }, { name: "shop", value: "茶" }] });
  assert.throws(() => server.herald(account, "notify", "--template", "code", "--to", "501"), /CONSENT_REQUIRED/);
  await sub.grant(account.id, "code", 1);
  await assert.rejects(sub.grant(account.id, "receipt", 1), (e) => e instanceof HeraldError && e.code === ErrorCode.BAD_REQUEST);
  await assert.rejects(sub.grant(account.id, "none", 1), (e) => e instanceof HeraldError && e.code === ErrorCode.UNKNOWN_TEMPLATE);
  server.herald(account, "notify", "--template", "code", "--to", "501", "--field", "code=4711");
  const [, code] = await c.until(2);
  assert.equal(code.notification.fields[0].value, "4711");
  await sub.ban(account.id, "code");
  await sub.unban(account.id, "code");
  await sub.close();
});

test("a letter to the account opens its window for a reply", async () => {
  const account = await server.account([502]);
  const c = collector();
  const sub = await Subscriber.connect({ url: server.wsURL(), token: await server.token(502), store: memoryStore(), onMessage: c.onMessage });
  await sub.write(account.id, "where is my order?");
  await assert.rejects(sub.write(account.id + 1000, "hi"), (e) => e instanceof HeraldError && e.code === ErrorCode.UNKNOWN_ACCOUNT);
  assert.match(server.herald(account, "inbox"), /#1 from user 502 at \S+ \[text\/plain\] where is my order\?/);
  server.herald(account, "publish", "--reply-to", "502", "it ships today");
  const [reply] = await c.until(1);
  assert.equal(reply.reply, true);
  assert.equal(reply.text(), "it ships today");
  await sub.close();
});

test("cursors keep one id per shard and round-trip as text", () => {
  const s1 = shardBase(1);
  const c = new Cursor([s1 + 7n, 5n, 3n, s1 + 2n]);
  assert.equal(c.toString(), `5,${s1 + 7n}`);
  assert.ok(c.covers(4n) && !c.covers(6n) && c.covers(s1 + 7n) && !c.covers(s1 + 8n));
  assert.equal(shardOf(s1 + 7n), 1);
  assert.equal(Cursor.parse(c.toString()).toString(), c.toString());
  assert.throws(() => Cursor.parse("x"));
  assert.equal(Cursor.parse("").toString(), "");
});
