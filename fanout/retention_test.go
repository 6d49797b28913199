package fanout

import (
	"context"
	"fmt"
	"testing"
	"time"

	"herald/internal/testutil"
	"herald/storage"
)

func TestRetentionAndHistoryMissed(t *testing.T) {
	store, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := testutil.NewClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	e := New(store, withUnlimited(Config{Now: clock.Now, Retention: 24 * time.Hour, RetentionSweep: time.Hour}))
	defer e.Close()
	account := seedAccount(t, e, 5)
	publish := func(id string) uint64 {
		t.Helper()
		res, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: id})
		if err != nil {
			t.Fatal(err)
		}
		return res.MessageID
	}
	publish("old-1")
	publish("old-2")
	clock.Advance(48 * time.Hour)
	kept := publish("new")
	if n, err := e.sweep(); err != nil || n != 2 {
		t.Fatalf("sweep removed %d, %v; want 2", n, err)
	}
	for _, tc := range []struct {
		cursor uint64
		missed bool
	}{
		{cursor: 0, missed: false}, // a new client is owed only what is retained
		{cursor: 1, missed: true},  // broadcast 2 is gone
		{cursor: 2, missed: false}, // had everything removed
	} {
		t.Run(fmt.Sprint("cursor=", tc.cursor), func(t *testing.T) {
			page, err := e.catchUp(5, tc.cursor, false)
			if err != nil || page.HistoryMissed != tc.missed || len(page.Frames) != 1 || page.Last.At(0) != kept {
				t.Fatalf("page: missed=%v frames=%d last=%d err=%v", page.HistoryMissed, len(page.Frames), page.Last, err)
			}
		})
	}
	// An idempotent retry of a removed broadcast still returns its id.
	clock.Advance(-47 * time.Hour) // within 24 h of "old-1" again
	res, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: "old-1"})
	if err != nil || !res.Duplicate || res.MessageID != 1 {
		t.Fatalf("retry of a removed broadcast = %+v, %v", res, err)
	}
}
