package fanout

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"herald/engine"
	"herald/storage"
)

// TestDeliveredAndOpenedCountEachUserOnce: acknowledgements count the
// broadcasts addressed to the user between the saved cursor and the
// acknowledged id, once per user whatever repeats them (a second device,
// a reconnect that acknowledges again, a cursor that goes back); OPENED
// counts once per user in the audience; the curve dates each delivery;
// the account's and the server's days add them up; and everything reads
// back the same after the engine restarts over the same store.
func TestDeliveredAndOpenedCountEachUserOnce(t *testing.T) {
	for _, cache := range []int{0, -1} { // from the recent broadcasts, then from the log
		store, err := storage.Open("", storage.Options{InMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		var now atomic.Int64
		start := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
		now.Store(start.UnixNano())
		cfg := withUnlimited(Config{CatchUpCache: cache, Now: func() time.Time { return time.Unix(0, now.Load()) }})
		e := New(store, cfg)
		ctx := context.Background()
		account := seedAccount(t, e, 1, 2, 3, 4)
		other := seedAccount(t, e, 1, 2)
		var ids []uint64
		for i, req := range []PublishRequest{
			{Account: account, ClientMsgID: "a"},
			{Account: other, ClientMsgID: "b"},
			{Account: account, ClientMsgID: "c", Users: []uint32{1, 2}},
		} {
			res, err := publishWait(ctx, e, req)
			if err != nil {
				t.Fatal(i, err)
			}
			ids = append(ids, res.MessageID)
		}
		a, b, c := ids[0], ids[1], ids[2]
		now.Add(int64(5 * time.Second))
		e.Acknowledge(1, c, 0) // live: a, b and c
		e.Acknowledge(1, c, c) // the same user's second device: nothing more
		e.Acknowledge(2, a, a) // a, caught up
		e.Acknowledge(3, b, b) // a (b is not addressed to 3), caught up
		e.Open(1, a)           // once
		e.Open(1, a)           // not again
		e.Open(9, a)           // 9 is no recipient
		e.Open(3, c)           // nor is 3 of c
		if err := e.acks.flush(); err != nil {
			t.Fatal(err)
		}
		now.Add(int64(time.Minute))
		e.Acknowledge(2, a, 0) // again after a reconnect: counted already
		e.Acknowledge(2, c, 0) // b and c, live, a minute later
		e.Open(2, c)
		e.Open(1, a)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e = New(store, cfg) // the same store: what was saved reads back
		e.Acknowledge(1, c, 0)
		if err := e.acks.flush(); err != nil {
			t.Fatal(err)
		}

		want := map[uint64]engine.Reach{
			a: {Delivered: 3, CaughtUp: 2, Opened: 1, Curve: [5]uint32{0, 3, 3, 3, 3}},
			b: {Delivered: 2, Curve: [5]uint32{0, 1, 1, 2, 2}}, // 2 follows other too
			c: {Delivered: 2, Opened: 1, NotSelected: 2, Curve: [5]uint32{0, 1, 1, 2, 2}},
		}
		for id, w := range want {
			acct := account
			if id == b {
				acct = other
			}
			r, err := e.status(acct, id)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Reach
			got.Kept, got.PublishedMillis = false, 0
			if got != w {
				t.Errorf("cache %d: reach of %d = %+v, want %+v", cache, id, got, w)
			}
		}
		day := dayOf(uint64(start.UnixMilli()))
		days, err := engine.Call(ctx, e.BroadcastStats, engine.BroadcastStatsRequest{Account: account, From: day - 1, To: day + 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 1 || days[0] != (engine.BroadcastDay{Day: day, Broadcasts: 2, Recipients: 6, Delivered: 5, Opened: 2}) {
			t.Errorf("account days = %+v", days)
		}
		server, err := engine.Call(ctx, e.BroadcastStats, engine.BroadcastStatsRequest{From: day, To: day})
		if err != nil {
			t.Fatal(err)
		}
		if len(server) != 1 || server[0] != (engine.BroadcastDay{Day: day, Broadcasts: 3, Recipients: 8, Delivered: 7, Opened: 2}) {
			t.Errorf("server days = %+v", server)
		}
		page, err := engine.Call(ctx, e.Broadcasts, engine.BroadcastsRequest{Account: account, Limit: 1})
		if err != nil || len(page) != 1 || page[0].MessageID != c {
			t.Fatalf("first page = %+v, %v", page, err)
		}
		page, err = engine.Call(ctx, e.Broadcasts, engine.BroadcastsRequest{Account: account, Before: c, Limit: 10})
		if err != nil || len(page) != 1 || page[0].MessageID != a || page[0].Reach.Delivered != 3 {
			t.Fatalf("second page = %+v, %v", page, err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		_ = store.Close()
	}
}
