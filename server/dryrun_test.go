package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
)

// TestDryRunCountsWithoutSending: a dry run reports the exact audience
// (followers minus blocklist), stores and sends nothing, spends no quota and
// leaves its client_msg_id free.
func TestDryRunCountsWithoutSending(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := h.Admin.CreateAccount(ctx, "once-a-day", "subscription")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.ImportFollowers(ctx, a.ID, strings.NewReader("1\n2\n3\n4\n")); err != nil {
		t.Fatal(err)
	}
	pub := h.Publisher(a.ID, a.Secret)
	if err := pub.Block(ctx, []uint32{4}); err != nil {
		t.Fatal(err)
	}
	follower := h.Subscribe(1, 0)
	for i := 0; i < 3; i++ {
		res, err := pub.Publish(ctx, client.Message{ClientMsgID: "launch", Payload: []byte("x"), DryRun: true})
		if err != nil || !res.DryRun || res.MessageID != 0 || res.Total != 3 || res.Recipients != 3 {
			t.Fatalf("dry run = %+v, %v; want 3 recipients and no id", res, err)
		}
	}
	if res, err := pub.Publish(ctx, client.Message{Preview: []uint32{7, 8}, DryRun: true}); err != nil || res.Total != 2 {
		t.Fatalf("dry-run preview = %+v, %v", res, err)
	}
	if got := h.Engine.Health().LastMessageID; got != 0 {
		t.Fatalf("a dry run stored broadcast %d", got)
	}
	// The one real broadcast of the day still goes out, under the same id.
	res, err := pub.Publish(ctx, client.Message{ClientMsgID: "launch", Payload: []byte("x")})
	if err != nil || res.Duplicate || res.DryRun || res.Total != 3 {
		t.Fatalf("real publish after dry runs = %+v, %v", res, err)
	}
	if m := testserver.Receive(t, follower, 5*time.Second); m.ID != res.MessageID {
		t.Fatalf("follower got %d, want only the real broadcast %d", m.ID, res.MessageID)
	}
}
