package fanout

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"herald/engine"
	"herald/storage"
)

// TestFollowerFiguresByDayAndSource: follows count under their source on
// the day (UTC) they are committed, only for users who did not follow
// already; unfollows count on theirs; each day's cumulative count is the
// follower count at its end, with days of nothing in between.
func TestFollowerFiguresByDayAndSource(t *testing.T) {
	day0 := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	var now atomic.Int64
	now.Store(day0.UnixNano())
	store, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	e := New(store, withUnlimited(Config{Now: func() time.Time { return time.Unix(0, now.Load()) }}))
	t.Cleanup(func() { _ = e.Close(); _ = store.Close() })
	ctx := context.Background()
	account := seedAccount(t, e, 1, 2, 3) // three followers before any day counted here
	change := func(method func(engine.Membership, func(int, error)), source string, users ...uint32) int {
		t.Helper()
		n, err := engine.Call(ctx, method, engine.Membership{Account: account, Users: users, Source: source})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := dayOf(uint64(day0.UnixMilli()))
	change(e.Follow, "qr", 10, 11, 1) // 1 follows already: two new
	change(e.Follow, "", 12)
	change(e.Unfollow, "", 2)
	now.Store(day0.Add(48 * time.Hour).UnixNano()) // two days later; the day between is empty
	change(e.Follow, "search", 13, 14)
	change(e.Follow, "qr", 15)
	change(e.Unfollow, "ignored", 10, 99) // 99 never followed
	if _, err := engine.Call(ctx, e.Follow, engine.Membership{Account: account, Users: []uint32{16}, Source: "two words"}); err == nil {
		t.Fatal("a bad source was accepted")
	}

	days, err := engine.Call(ctx, e.FollowerStats, engine.FollowerStatsRequest{Account: account, From: first - 1, To: first + 2})
	if err != nil {
		t.Fatal(err)
	}
	// seedAccount's three follows, on day0 too, carry no source: with 12
	// they are the "" of day first.
	want := []engine.FollowerDay{
		{Day: first - 1, Cumulative: 0},
		{Day: first, Follows: 6, Unfollows: 1, Cumulative: 5, BySource: map[string]uint64{"": 4, "qr": 2}},
		{Day: first + 1, Cumulative: 5},
		{Day: first + 2, Follows: 3, Unfollows: 1, Cumulative: 7, BySource: map[string]uint64{"search": 2, "qr": 1}},
	}
	if !reflect.DeepEqual(days, want) {
		t.Fatalf("figures:\n%+v\nwant\n%+v", days, want)
	}
	if _, err := engine.Call(ctx, e.FollowerStats, engine.FollowerStatsRequest{Account: account, From: first, To: first + 366}); err == nil {
		t.Fatal("a range of 367 days was accepted")
	}
}

// TestFollowsFoldedIntoOneCommitCountEach: follows that arrive together
// are applied as one set change (followRun), and each still counts under
// its own source.
func TestFollowsFoldedIntoOneCommitCountEach(t *testing.T) {
	e := newEngine(t)
	account := seedAccount(t, e)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			source := []string{"a", "b"}[w%2]
			for i := range 50 {
				users := []uint32{uint32(1000 + w*100 + i), 7} // 7: only its first follow counts
				if _, err := engine.Call(context.Background(), e.Follow, engine.Membership{Account: account, Users: users, Source: source}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	day := e.today()
	days, err := engine.Call(context.Background(), e.FollowerStats, engine.FollowerStatsRequest{Account: account, From: day, To: day})
	if err != nil {
		t.Fatal(err)
	}
	d := days[0]
	if d.Follows != 401 || d.BySource["a"]+d.BySource["b"] != 401 || min(d.BySource["a"], d.BySource["b"]) < 200 || d.Cumulative != 401 {
		t.Fatalf("figures %+v, want 401 follows: 200 from each source and user 7 once", d)
	}
}
