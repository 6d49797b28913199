package fanout

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"herald/engine"
	"herald/wire"
)

// TestCatchUpFromTheLogWhileFollowsChange: publishes of two accounts (to
// all, to an expression-free list, previews to anyone) race follows and
// unfollows through the real preparers and writer; afterwards every
// user's catch-up from the stored log, page by page, is exactly the
// broadcasts whose frozen audience holds the user — a follower who left
// while a publish was being resolved included.
func TestCatchUpFromTheLogWhileFollowsChange(t *testing.T) {
	e := newEngine(t)
	const users = 30
	a := seedAccount(t, e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	b := seedAccount(t, e, 11, 12, 13, 14, 15)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for i, account := range []uint32{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			var inFlight sync.WaitGroup
			for n := range 150 {
				req := PublishRequest{Account: account, ClientMsgID: fmt.Sprint(n), Payload: []byte{byte(n)}}
				switch rng.IntN(6) {
				case 0:
					req.Preview = []uint32{uint32(1 + rng.IntN(users))}
				case 1:
					req.Users = []uint32{uint32(1 + rng.IntN(users)), uint32(1 + rng.IntN(users))}
				}
				inFlight.Add(1)
				e.Publish(req, func(_ PublishResult, err error) {
					if err != nil {
						fail(err)
					}
					inFlight.Done()
				})
			}
			inFlight.Wait()
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(9, 9))
		for range 200 {
			req := engine.Membership{Account: []uint32{a, b}[rng.IntN(2)], Users: []uint32{uint32(1 + rng.IntN(users))}}
			call := e.Follow
			if rng.IntN(2) == 0 {
				call = e.Unfollow
			}
			if _, err := engine.Call(ctx, call, req); err != nil {
				fail(err)
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	last := e.store.LastMessageID()
	for user := uint32(1); user <= users; user++ {
		var want []uint64
		for id := uint64(1); id <= last; id++ {
			in, err := e.store.InAudience(id, user)
			if err != nil {
				t.Fatal(err)
			}
			if in {
				want = append(want, id)
			}
		}
		var got []uint64
		for cursor := uint64(0); ; {
			page, err := e.catchUpFromLog(user, cursor, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, frame := range page.Frames {
				err := wire.NewParser(0).Feed(frame, func(f wire.Frame) error {
					p, err := wire.DecodePush(f.Body)
					got = append(got, p.MessageID)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			cursor = page.Last.At(0)
			if !page.More {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("user %d: catch-up from the log %v, the audiences hold %v", user, got, want)
		}
	}
}
