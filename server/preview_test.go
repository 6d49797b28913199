package server_test

import (
	"context"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestPreviewReachesOnlyListedUsers: a preview goes to the listed users,
// followers or not, live and on catch-up, and to nobody else.
func TestPreviewReachesOnlyListedUsers(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 5)
	follower := h.Subscribe(1, 0)
	tester := h.Subscribe(99, 0) // not a follower
	listedFollower := h.Subscribe(2, 0)
	pub := h.Publisher(account, secret)
	ctx := context.Background()
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("draft"), Preview: []uint32{2, 99, 100}})
	if err != nil || res.Total != 3 || res.Recipients != 3 {
		t.Fatalf("preview ack = %+v, %v", res, err)
	}
	next, err := pub.Publish(ctx, client.Message{Payload: []byte("real")})
	if err != nil || next.Total != 5 {
		t.Fatalf("broadcast ack = %+v, %v", next, err)
	}
	for _, sub := range []*client.Subscriber{tester, listedFollower} {
		if m := testserver.Receive(t, sub, 5*time.Second); m.ID != res.MessageID || string(m.Payload) != "draft" {
			t.Fatalf("user %d got %+v", sub.User(), m)
		}
	}
	if m := testserver.Receive(t, follower, 5*time.Second); m.ID != next.MessageID {
		t.Fatalf("unlisted follower got %d, want only the real broadcast %d", m.ID, next.MessageID)
	}
	// The follower has the later broadcast, so a misaddressed one would be
	// waiting by now.
	testserver.ExpectNone(t, tester)
	offline := h.Subscribe(100, 0) // listed, was offline: catches up
	if m := testserver.Receive(t, offline, 5*time.Second); m.ID != res.MessageID {
		t.Fatalf("offline tester caught up %d", m.ID)
	}

	r := testutil.DialRaw(t, h.Server.PublisherAddr())
	r.Welcome(account, secret)
	for i, users := range [][]uint32{nil, make([]uint32, 101)} {
		r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: uint32(10 + i), Account: account, ClientMsgID: "bad-preview",
			AudienceKind: wire.AudiencePreview, AudienceBytes: wire.EncodeUsers(users)}))
		r.ExpectError(wire.CodeBadRequest, uint32(10+i))
	}
}
