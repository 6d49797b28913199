package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
	"herald/wire"
)

func TestRetract(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	other, otherSecret := h.Account(1, 3)
	online := h.Subscribe(1, 0)
	pub := h.Publisher(account, secret)
	ctx := context.Background()
	a, err := pub.Publish(ctx, client.Message{ClientMsgID: "a", Payload: []byte("oops")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := pub.Publish(ctx, client.Message{Payload: []byte("fine")})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []uint64{a.MessageID, b.MessageID} {
		if m := testserver.Receive(t, online, 5*time.Second); m.ID != want {
			t.Fatalf("got %d, want %d", m.ID, want)
		}
	}

	if err := pub.Retract(ctx, a.MessageID); err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, online, 5*time.Second); !m.Retracted || m.ID != a.MessageID || m.Account != account {
		t.Fatalf("online follower got %+v, want the retraction of %d", m, a.MessageID)
	}
	// Twice is fine, and nobody is told twice.
	if err := pub.Retract(ctx, a.MessageID); err != nil {
		t.Fatalf("second retract: %v", err)
	}
	c, err := pub.Publish(ctx, client.Message{Payload: []byte("after")})
	if err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, online, 5*time.Second); m.ID != c.MessageID || m.Retracted {
		t.Fatalf("after the second retract got %+v, want broadcast %d", m, c.MessageID)
	}

	// Catch-up skips it, before and after a restart.
	checkCatchUp := func(user uint32) {
		t.Helper()
		sub := h.Subscribe(user, 0)
		for _, want := range []uint64{b.MessageID, c.MessageID} {
			if m := testserver.Receive(t, sub, 5*time.Second); m.ID != want || m.Retracted {
				t.Fatalf("user %d caught up %+v, want %d", user, m, want)
			}
		}
		testserver.ExpectNone(t, sub)
		_ = sub.Close()
	}
	checkCatchUp(2)
	_ = online.Close()
	_ = pub.Close()
	h.Stop()
	h.Restart()
	checkCatchUp(3)

	// The record stays: an idempotent retry still gets the original id.
	pub = h.Publisher(account, secret)
	if res, err := pub.Publish(ctx, client.Message{ClientMsgID: "a"}); err != nil || !res.Duplicate || res.MessageID != a.MessageID {
		t.Fatalf("retry of a retracted broadcast = %+v, %v", res, err)
	}
	var e *client.Error
	if err := pub.Retract(ctx, 999); !errors.As(err, &e) || e.Code != wire.CodeUnknownMessage {
		t.Fatalf("retract of an unknown id: %v", err)
	}
	otherPub := h.Publisher(other, otherSecret)
	if err := otherPub.Retract(ctx, b.MessageID); !errors.As(err, &e) || e.Code != wire.CodeForbidden {
		t.Fatalf("retract of another account's broadcast: %v", err)
	}
}
