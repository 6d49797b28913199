package fanout

import (
	"context"
	"testing"

	"herald/storage"
)

// TestWriterTakesThePreparersCapOnlyWhileItHolds: a capped account's
// preparer subtracts the followers at the cap (and prepares the count of
// the rest, except for a dry run); the writer takes that
// audience while its own read of the at-cap set is the very set the
// preparer used, and subtracts again when a broadcast was counted in
// between (here one earlier in its own batch).
func TestWriterTakesThePreparersCapOnlyWhileItHolds(t *testing.T) {
	store, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	const onePerMonth storage.Tier = 201
	cfg := Config{Tiers: DefaultTiers()}
	cfg.Tiers[onePerMonth] = TierPolicy{Name: "one-a-month", ID: onePerMonth, PerFollowerMonthly: 1}
	e := New(store, cfg)
	t.Cleanup(func() {
		_ = e.Close()
		_ = store.Close()
	})
	ctx := context.Background()
	a, _, err := createAccount(ctx, e, "capped", onePerMonth)
	if err != nil {
		t.Fatal(err)
	}
	req := PublishRequest{Account: a.ID, ContentType: "text/plain", Payload: []byte("news")}
	if _, err := followWait(ctx, e, a.ID, []uint32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	req.ClientMsgID = "m1"
	if r, err := publishWait(ctx, e, req); err != nil || r.Recipients != 3 {
		t.Fatalf("first broadcast: %+v, %v", r, err)
	}
	if _, err := followWait(ctx, e, a.ID, []uint32{4}); err != nil {
		t.Fatal(err)
	}

	// Users 1 to 3 are at the cap: both preparers leave only user 4.
	first, second := &publishOp{req: req}, &publishOp{req: req}
	first.req.ClientMsgID, second.req.ClientMsgID = "m2", "m3"
	for _, o := range []*publishOp{first, second} {
		if o.prepare(e); o.prepErr != nil || o.capped == nil || o.capped.audience.GetCardinality() != 1 || o.capped.count == nil {
			t.Fatalf("prepared: %v, %+v", o.prepErr, o.capped)
		}
	}
	dry := &publishOp{req: req}
	dry.req.DryRun = true
	if dry.prepare(e); dry.prepErr != nil || dry.capped == nil || dry.capped.count != nil {
		t.Fatalf("a dry run prepared: %v, %+v", dry.prepErr, dry.capped)
	}
	b := store.NewBatch()
	defer b.Close()
	now := e.nowMillis()
	if err := first.apply(e, b, now); err != nil {
		t.Fatal(err)
	}
	if first.result.Recipients != 1 || first.send.audience != first.capped.audience {
		t.Errorf("first of the group: %d recipients, preparer's audience taken: %v", first.result.Recipients, first.send.audience == first.capped.audience)
	}
	// The batch has counted user 4 since the second was prepared.
	if err := second.apply(e, b, now); err != nil {
		t.Fatal(err)
	}
	if second.result.Recipients != 0 {
		t.Errorf("second of the group: %d recipients, want 0 (user 4 got the first)", second.result.Recipients)
	}
}
