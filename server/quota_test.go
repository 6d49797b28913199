package server_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
	"herald/wire"
)

// TestRacingPublishersGetOneDailyBroadcast: 50 publishers race on one
// subscription account (1 broadcast per day); exactly one succeeds, the
// rest get QUOTA_EXCEEDED with the next UTC midnight; previews and
// idempotent retries still work.
func TestRacingPublishersGetOneDailyBroadcast(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := h.Admin.CreateAccount(ctx, "daily", "subscription")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		successes []string
		exceeded  int
		resets    []time.Time
		wg        sync.WaitGroup
	)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: h.Server.PublisherAddr(), Account: a.ID, Secret: a.Secret})
			if err != nil {
				t.Error(err)
				return
			}
			defer pub.Close()
			id := fmt.Sprint("racer-", i)
			_, err = pub.Publish(ctx, client.Message{ClientMsgID: id, Payload: []byte("x")})
			var e *client.Error
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				successes = append(successes, id)
			case errors.As(err, &e) && e.Code == wire.CodeQuotaExceeded:
				exceeded++
				resets = append(resets, e.RetryAt)
			default:
				t.Errorf("publisher %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if len(successes) != 1 || exceeded != 49 {
		t.Fatalf("%d successes, %d QUOTA_EXCEEDED; want 1 and 49", len(successes), exceeded)
	}
	midnight := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	for _, r := range resets {
		if !r.Equal(midnight) {
			t.Fatalf("reset at %v, want %v", r, midnight)
		}
	}
	pub := h.Publisher(a.ID, a.Secret)
	if res, err := pub.Publish(ctx, client.Message{ClientMsgID: successes[0]}); err != nil || !res.Duplicate {
		t.Fatalf("retry of the broadcast that got through = %+v, %v", res, err)
	}
	if _, err := pub.Publish(ctx, client.Message{Payload: []byte("test"), Preview: []uint32{7}}); err != nil {
		t.Fatalf("preview after the quota is used: %v", err)
	}
}
