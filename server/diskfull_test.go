package server_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestFullDiskRefusesWritesAndRecovers: with the disk at its reserve a
// publish gets STORAGE_FULL at once (its connection stays open), a follow
// (an unfollow) too, while catch-up goes on serving what is stored; once space returns,
// publishing works again with nothing restarted.
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	var avail atomic.Uint64
	avail.Store(10 << 30)
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{DiskReserve: 64 << 20,
		DiskUsage: func() (uint64, uint64, error) { return avail.Load(), 20 << 30, nil }}})
	account, secret := h.Account(1, 3)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, err := pub.Publish(ctx, testutil.Message("stored"))
	if err != nil {
		t.Fatal(err)
	}

	avail.Store(32 << 20)
	testutil.WaitFor(t, 5*time.Second, "the store to see the full disk", func() bool { return h.Engine.Health().StorageError != nil })
	var e *client.Error
	if _, err := pub.Publish(ctx, testutil.Message("refused")); !errors.As(err, &e) || e.Code != wire.CodeStorageFull || e.Code.Fatal() {
		t.Fatalf("publish on a full disk: %v", err)
	}
	sub := h.Subscribe(2, 0)
	if m := testserver.Receive(t, sub, 5*time.Second); m.ID != first.MessageID {
		t.Fatalf("catch-up on a full disk got %d, want %d", m.ID, first.MessageID)
	}
	if err := sub.Unfollow(ctx, account); !errors.As(err, &e) || e.Code != wire.CodeStorageFull {
		t.Fatalf("unfollow on a full disk: %v", err)
	}
	health, err := h.Admin.Health(ctx)
	if err != nil || health.Status != "degraded" {
		t.Fatalf("healthz on a full disk: %+v %v", health, err)
	}

	avail.Store(10 << 30)
	testutil.WaitFor(t, 5*time.Second, "the store to see space again", func() bool { return h.Engine.Health().StorageError == nil })
	again, err := pub.Publish(ctx, testutil.Message("after"))
	if err != nil || again.MessageID != first.MessageID+1 {
		t.Fatalf("publish once space returned: %+v %v", again, err)
	}
	if m := testserver.Receive(t, sub, 5*time.Second); m.ID != again.MessageID {
		t.Fatalf("live push after recovery: %d", m.ID)
	}
}
