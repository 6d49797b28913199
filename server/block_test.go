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

// TestBlocklist: blocked users get none of the account's broadcasts, live
// or on catch-up, followers or not, until unblocked; previews still reach
// listed test users.
func TestBlocklist(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 5)
	other, otherSecret := h.Account(1, 5)
	pub := h.Publisher(account, secret)
	ctx := context.Background()
	if err := pub.Block(ctx, []uint32{2, 9}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Block(ctx, []uint32{2}); err != nil { // twice is fine
		t.Fatal(err)
	}
	open, blocked := h.Subscribe(1, 0), h.Subscribe(2, 0)
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("not for 2")})
	if err != nil || res.Total != 4 {
		t.Fatalf("ack = %+v, %v; want an audience of 4 (5 followers, one blocked)", res, err)
	}
	if m := testserver.Receive(t, open, 5*time.Second); m.ID != res.MessageID {
		t.Fatalf("user 1 got %d", m.ID)
	}
	preview, err := pub.Publish(ctx, client.Message{Payload: []byte("test"), Preview: []uint32{2}})
	if err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, blocked, 5*time.Second); m.ID != preview.MessageID {
		t.Fatalf("blocked user got %d, want only the preview %d", m.ID, preview.MessageID)
	}
	if err := pub.Unblock(ctx, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	after, err := pub.Publish(ctx, client.Message{Payload: []byte("for everyone")})
	if err != nil || after.Total != 5 {
		t.Fatalf("ack after unblock = %+v, %v", after, err)
	}
	if m := testserver.Receive(t, blocked, 5*time.Second); m.ID != after.MessageID {
		t.Fatalf("unblocked user got %d, want %d", m.ID, after.MessageID)
	}
	// Catch-up honours the frozen audience: user 2 never gets the first.
	late := h.Subscribe(2, 0)
	for _, want := range []uint64{preview.MessageID, after.MessageID} {
		if m := testserver.Receive(t, late, 5*time.Second); m.ID != want {
			t.Fatalf("catch-up for user 2 got %d, want %d", m.ID, want)
		}
	}
	testserver.ExpectNone(t, late)

	r := testutil.DialRaw(t, h.Server.PublisherAddr())
	r.Welcome(account, secret)
	r.Send(wire.AppendBlock(nil, wire.TypeBlock, wire.Block{RequestID: 5, Account: other, Users: []uint32{1}}))
	r.ExpectError(wire.CodeForbidden, 5)
	r.Send(wire.AppendBlock(nil, wire.TypeBlock, wire.Block{RequestID: 6, Account: account}))
	r.ExpectError(wire.CodeBadRequest, 6)
	// The SDK sends nothing for an empty list.
	if err := h.Publisher(other, otherSecret).Block(ctx, nil); err != nil {
		t.Fatalf("blocking nobody: %v", err)
	}
}

// TestListedAudience: an id-list audience is the listed users among the
// followers, minus the blocklist.
func TestListedAudience(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 5)
	pub := h.Publisher(account, secret)
	ctx := context.Background()
	if err := pub.Block(ctx, []uint32{5}); err != nil {
		t.Fatal(err)
	}
	listed, unlisted := h.Subscribe(1, 0), h.Subscribe(2, 0)
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("just you"), Users: []uint32{1, 5, 99}})
	if err != nil || res.Total != 1 {
		t.Fatalf("ack = %+v, %v; want 1 (1 follows; 5 is blocked; 99 does not follow)", res, err)
	}
	everyone, err := pub.Publish(ctx, client.Message{Payload: []byte("all")})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{res.MessageID, everyone.MessageID} {
		if m := testserver.Receive(t, listed, 5*time.Second); m.ID != want {
			t.Fatalf("listed follower got %d, want %d", m.ID, want)
		}
	}
	if m := testserver.Receive(t, unlisted, 5*time.Second); m.ID != everyone.MessageID {
		t.Fatalf("unlisted follower got %d, want only %d", m.ID, everyone.MessageID)
	}
	r := testutil.DialRaw(t, h.Server.PublisherAddr())
	r.Welcome(account, secret)
	r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 1, Account: account, ClientMsgID: "too-many",
		AudienceKind: wire.AudienceList, AudienceBytes: wire.EncodeUsers(make([]uint32, wire.MaxListed+1))}))
	r.ExpectError(wire.CodeBadRequest, 1)
	r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 2, Account: account, ClientMsgID: "tags", AudienceKind: 1}))
	r.ExpectError(wire.CodeBadRequest, 2)
}
