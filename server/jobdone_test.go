package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
	"herald/wire"
)

// TestJobDoneCountsWhatClientsReceived: 150 followers, 50 of them online
// (user 1 on two devices) beside 10 online non-followers. JOB_DONE reports
// each recipient once, and its counts are what the clients received; STATUS
// answers the same, also after a restart.
func TestJobDoneCountsWhatClientsReceived(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 150)
	var subs []*client.Subscriber
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, user := range append(seq(1, 50), append([]uint32{1}, seq(201, 210)...)...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := h.Subscribe(user, 0)
			mu.Lock()
			subs = append(subs, sub)
			mu.Unlock()
		}()
	}
	wg.Wait()

	reports := make(chan client.JobReport, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: h.Server.PublisherAddr(), Account: account, Secret: secret,
		OnJobDone: func(r client.JobReport) { reports <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("count me")})
	if err != nil {
		t.Fatal(err)
	}
	var report client.JobReport
	select {
	case report = <-reports:
	case <-ctx.Done():
		t.Fatal("no JOB_DONE")
	}

	// JOB_DONE comes once every loop has written the broadcast; a round
	// trip on each connection after it brings whatever was written to it.
	received := map[uint32]bool{}
	for _, sub := range subs {
		if err := sub.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-sub.Messages():
			if m.ID != res.MessageID {
				t.Fatalf("user %d got %d", sub.User(), m.ID)
			}
			received[sub.User()] = true
		default: // a non-follower, given nothing
		}
	}
	want := client.JobReport{MessageID: res.MessageID, Total: 150, SentLive: uint32(len(received)), PendingOffline: 150 - uint32(len(received))}
	if len(received) != 50 || report != want {
		t.Fatalf("%d users received it; JOB_DONE %+v, want %+v", len(received), report, want)
	}
	if got, err := pub.Status(ctx, res.MessageID); err != nil || got != want {
		t.Fatalf("STATUS = %+v, %v", got, err)
	}

	var e *client.Error
	if _, err := pub.Status(ctx, 999); !errors.As(err, &e) || e.Code != wire.CodeUnknownMessage {
		t.Fatalf("STATUS of an unknown id: %v", err)
	}
	for _, sub := range subs {
		_ = sub.Close()
	}
	_ = pub.Close()
	h.Stop()
	h.Restart()
	pub2 := h.Publisher(account, secret)
	if got, err := pub2.Status(ctx, res.MessageID); err != nil || got != want {
		t.Fatalf("STATUS after restart = %+v, %v", got, err)
	}
}

func seq(first, last uint32) []uint32 {
	var out []uint32
	for u := first; u <= last; u++ {
		out = append(out, u)
	}
	return out
}
