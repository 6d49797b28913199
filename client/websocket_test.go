package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
)

// TestSubscriberOverWebSocket: given a ws:// address the SDK speaks the
// same protocol inside WebSocket messages: catch-up, live pushes,
// compressed payloads, and the stored cursor after Close, across a restart
// of the server.
func TestSubscriberOverWebSocket(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub := h.Publisher(account, secret)
	missed, err := pub.Publish(ctx, client.Message{Payload: []byte("missed")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: "ws://" + h.Server.ClientAddr() + "/", Token: h.Token(1),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if m := testserver.Receive(t, sub, 5*time.Second); m.ID != missed.MessageID {
		t.Fatalf("catch-up gave %d", m.ID)
	}
	big := make([]byte, 64<<10) // compresses: S2 inside the WebSocket message
	for i := range big {
		big[i] = byte('a' + i%7)
	}
	live, err := pub.Publish(ctx, client.Message{Payload: big})
	if err != nil {
		t.Fatal(err)
	}
	if m := testserver.Receive(t, sub, 5*time.Second); m.ID != live.MessageID || len(m.Payload) != len(big) {
		t.Fatalf("live gave %d (%d bytes)", m.ID, len(m.Payload))
	}
	h.Stop()
	h.Restart()
	var want []uint64
	for i := range 3 {
		res, err := pub.Publish(ctx, client.Message{Payload: fmt.Appendf(nil, "after %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.MessageID)
	}
	for _, id := range want {
		if m := testserver.Receive(t, sub, 10*time.Second); m.ID != id {
			t.Fatalf("after the restart got %d, want %d", m.ID, id)
		}
	}
	testserver.ExpectNone(t, sub)
}
