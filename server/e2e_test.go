package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
)

// TestBroadcastReachesLiveAndOfflineFollowers is the walking skeleton's
// acceptance test: 5,000 followers, 500 of them online through the SDK,
// non-followers online beside them; a broadcast reaches every online
// follower exactly once and no non-follower; offline followers get it on
// RESUME; and it survives a restart of the server on the same directory.
func TestBroadcastReachesLiveAndOfflineFollowers(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 5000)

	const online = 500
	followers := make([]*client.Subscriber, online)
	strangers := make([]*client.Subscriber, 50)
	var wg sync.WaitGroup
	for i := range followers {
		wg.Add(1)
		go func() { defer wg.Done(); followers[i] = h.Subscribe(uint32(i+1), 0) }()
	}
	for i := range strangers {
		wg.Add(1)
		go func() { defer wg.Done(); strangers[i] = h.Subscribe(uint32(6001+i), 0) }()
	}
	wg.Wait()

	pub := h.Publisher(account, secret)
	ctx := context.Background()
	first, err := pub.Publish(ctx, client.Message{ClientMsgID: "first", ContentType: "text/plain", Payload: []byte("hello followers")})
	if err != nil {
		t.Fatal(err)
	}
	if first.Total != 5000 || first.Recipients != 5000 || first.Filtered != 0 || first.Duplicate {
		t.Fatalf("ack = %+v, want an audience of 5000", first)
	}
	retry, err := pub.Publish(ctx, client.Message{ClientMsgID: "first", ContentType: "text/plain", Payload: []byte("hello followers")})
	if err != nil || !retry.Duplicate || retry.MessageID != first.MessageID {
		t.Fatalf("retry = %+v, %v; want the original id, marked duplicate", retry, err)
	}
	second, err := pub.Publish(ctx, client.Message{ClientMsgID: "second", Payload: []byte("again")})
	if err != nil {
		t.Fatal(err)
	}

	for _, sub := range followers {
		m1 := testserver.Receive(t, sub, 10*time.Second)
		m2 := testserver.Receive(t, sub, 10*time.Second)
		if m1.ID != first.MessageID || string(m1.Payload) != "hello followers" || m1.ContentType != "text/plain" || m1.Account != account {
			t.Fatalf("user %d first message = %+v", sub.User(), m1)
		}
		if m2.ID != second.MessageID {
			t.Fatalf("user %d second message = %d, want %d", sub.User(), m2.ID, second.MessageID)
		}
	}
	// Every loop has delivered the second broadcast (each loop delivers in
	// id order and each holds followers), so anything misaddressed would
	// already be waiting.
	for _, sub := range append(followers, strangers...) {
		testserver.ExpectNone(t, sub)
	}
	// The counter is added when a loop's drain ends, which can be just
	// after its clients read their frames; it must settle at exactly this.
	testutil.WaitFor(t, 5*time.Second, fmt.Sprintf("exactly %d pushes counted", 2*online), func() bool {
		return h.Engine.Health().Delivered == 2*online
	})

	// Offline followers catch up on RESUME, in order.
	for _, user := range []uint32{501, 2500, 5000} {
		sub := h.Subscribe(user, 0)
		for _, want := range []uint64{first.MessageID, second.MessageID} {
			if m := testserver.Receive(t, sub, 5*time.Second); m.ID != want {
				t.Fatalf("user %d caught up %d, want %d", user, m.ID, want)
			}
		}
		testserver.ExpectNone(t, sub)
	}
	// A cursor past the first broadcast resumes after it.
	sub := h.Subscribe(4000, first.MessageID)
	if m := testserver.Receive(t, sub, 5*time.Second); m.ID != second.MessageID {
		t.Fatalf("resume from cursor got %d", m.ID)
	}

	// Restart on the same directory: the log is still there.
	for _, s := range append(followers, strangers...) {
		_ = s.Close()
	}
	h.Stop()
	h.Restart()
	after := h.Subscribe(4999, 0)
	if m := testserver.Receive(t, after, 5*time.Second); m.ID != first.MessageID || string(m.Payload) != "hello followers" {
		t.Fatalf("after restart got %+v", m)
	}
	if m := testserver.Receive(t, after, 5*time.Second); m.ID != second.MessageID {
		t.Fatalf("after restart second = %d", m.ID)
	}
	stranger := h.Subscribe(6001, 0)
	testserver.ExpectNone(t, stranger)
	// Idempotency survives the restart too.
	pub2 := h.Publisher(account, secret)
	again, err := pub2.Publish(ctx, client.Message{ClientMsgID: "first"})
	if err != nil || !again.Duplicate || again.MessageID != first.MessageID {
		t.Fatalf("retry after restart = %+v, %v", again, err)
	}
}

// TestFollowOverTheClientProtocol: a user follows an account by itself and
// then receives its broadcasts live; after unfollowing it does not.
func TestFollowOverTheClientProtocol(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 0)
	sub := h.Subscribe(77, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sub.Follow(ctx, account); err != nil {
		t.Fatal(err)
	}
	pub := h.Publisher(account, secret)
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("x")})
	if err != nil || res.Total != 1 {
		t.Fatalf("publish = %+v, %v", res, err)
	}
	if m := testserver.Receive(t, sub, 5*time.Second); m.ID != res.MessageID {
		t.Fatalf("got %d", m.ID)
	}
	if err := sub.Follow(ctx, 999); err == nil {
		t.Fatal("following an unknown account succeeded")
	}
	if err := sub.Unfollow(ctx, account); err != nil {
		t.Fatal(err)
	}
	res, err = pub.Publish(ctx, client.Message{Payload: []byte("y")})
	if err != nil || res.Total != 0 {
		t.Fatalf("publish after unfollow = %+v, %v", res, err)
	}
}
