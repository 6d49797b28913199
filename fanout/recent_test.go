package fanout

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/engine"
	"herald/internal/testutil"
	"herald/storage"
)

// TestCatchUpFromMemoryMatchesTheLog: whatever was published (to all
// followers, to a list, a preview, with a TTL that has passed, retracted,
// compressible or not), a page from the recent broadcasts in memory is the
// page the log gives, byte for byte, for every user, cursor, page limit and
// compression; and a cache too small to reach back falls back to the log.
func TestCatchUpFromMemoryMatchesTheLog(t *testing.T) {
	for _, cacheBytes := range []int{0, 3000} {
		t.Run(fmt.Sprintf("cache %d", cacheBytes), func(t *testing.T) {
			store, err := storage.Open("", storage.Options{InMemory: true})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			clock := testutil.NewClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
			e := New(store, withUnlimited(Config{Now: clock.Now, CatchUpPage: 3, CatchUpBytes: 20000, CompressMin: 64, CatchUpCache: cacheBytes}))
			defer func() { _ = e.Close() }()
			account := seedAccount(t, e, 1, 2, 3, 4, 5, 6)
			ctx := context.Background()
			n := 0
			publish := func(req PublishRequest) uint64 {
				t.Helper()
				n++
				req.Account, req.ClientMsgID = account, fmt.Sprint(n)
				res, err := publishWait(ctx, e, req)
				if err != nil {
					t.Fatal(err)
				}
				return res.MessageID
			}
			compressible := []byte(strings.Repeat("herald ", 200))
			publish(PublishRequest{Payload: []byte("to all")})
			publish(PublishRequest{Payload: compressible})
			publish(PublishRequest{Users: []uint32{2, 3}, Payload: []byte("listed")})
			publish(PublishRequest{Preview: []uint32{9}, Payload: []byte("preview")})
			publish(PublishRequest{TTLSeconds: 10, Payload: []byte("short-lived")})
			gone := publish(PublishRequest{Payload: compressible})
			publish(PublishRequest{Payload: make([]byte, 1500)})
			publish(PublishRequest{Users: []uint32{4}, Payload: make([]byte, recentMaxFrame)}) // kept without its frames
			publish(PublishRequest{Payload: make([]byte, 1500)})
			if _, err := engine.Call(ctx, e.Retract, engine.MessageRef{Account: account, MessageID: gone}); err != nil {
				t.Fatal(err)
			}
			last := publish(PublishRequest{ContentType: "text/plain", Payload: []byte("last")})
			clock.Advance(20 * time.Second)

			compare(t, e, cacheBytes, last)
			// After a restart the cache is loaded from the log.
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = New(store, withUnlimited(Config{Now: clock.Now, CatchUpPage: 3, CatchUpBytes: 20000, CompressMin: 64, CatchUpCache: cacheBytes}))
			compare(t, e, cacheBytes, last)
		})
	}
}

// compare checks every page from memory against the log's.
func compare(t *testing.T, e *Engine, cacheBytes int, last uint64) {
	t.Helper()
	if _, _, _, ok := e.recent.page(1, 0, 3, 2500, e.nowMillis(), 1, false); ok != (cacheBytes == 0) {
		t.Fatalf("the cache reaches back to cursor 0: %v, want %v", ok, cacheBytes == 0)
	}
	for user := uint32(1); user <= 10; user++ {
		for cursor := uint64(0); cursor <= last; cursor++ {
			for _, compress := range []bool{false, true} {
				got, err := e.catchUp(user, cursor, compress)
				if err != nil {
					t.Fatal(err)
				}
				want, err := e.catchUpFromLog(user, cursor, compress)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Last.Equal(want.Last) || got.More != want.More || len(got.Frames) != len(want.Frames) {
					t.Fatalf("user %d after %d (compress %v): %d frames, last %d, more %v; the log: %d, %d, %v",
						user, cursor, compress, len(got.Frames), got.Last, got.More, len(want.Frames), want.Last, want.More)
				}
				for i := range got.Frames {
					if !bytes.Equal(got.Frames[i], want.Frames[i]) {
						t.Fatalf("user %d after %d (compress %v): frame %d differs from the log's", user, cursor, compress, i)
					}
				}
			}
		}
	}
}

// TestRecentCountsASharedAudienceOnce: broadcasts sharing one audience
// bitmap (the audience memo's) count it once against the cache's limit,
// until the last of them leaves.
func TestRecentCountsASharedAudienceOnce(t *testing.T) {
	audience := roaring.New()
	for u := uint32(0); u < 1<<16; u += 2 {
		audience.Add(u) // an 8 KiB bitmap
	}
	var r recent
	r.init(20_000, 0)
	for id := uint64(1); id <= 50; id++ {
		r.add(newDelivery(storage.Broadcast{ID: id, Payload: []byte("x")}, audience, nil))
	}
	if r.start != 1 || r.last != 50 {
		t.Fatalf("holds %d..%d of 50 broadcasts sharing one audience", r.start, r.last)
	}
	shared := int(audience.GetSizeInBytes())
	if frames := r.bytes - shared; frames <= 0 || frames > 50*200 {
		t.Fatalf("%d bytes held for 50 small frames and one audience of %d", r.bytes, shared)
	}
	// Broadcasts with audiences of their own push the shared one out.
	for id := uint64(51); id <= 53; id++ {
		r.add(newDelivery(storage.Broadcast{ID: id, Payload: []byte("x")}, audience.Clone(), nil))
	}
	if r.start <= 50 || len(r.held) != 53-int(r.start)+1 || r.bytes > r.limit {
		t.Fatalf("after 3 own audiences: holds %d..%d, %d audiences, %d of %d bytes", r.start, r.last, len(r.held), r.bytes, r.limit)
	}
}
