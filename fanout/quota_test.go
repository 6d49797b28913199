package fanout

import (
	"context"
	"errors"
	"testing"
	"time"

	"herald/internal/testutil"
	"herald/storage"
)

func TestDailyQuotaByTierAndDay(t *testing.T) {
	store, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := testutil.NewClock(time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC))
	e := New(store, Config{Now: clock.Now})
	defer e.Close()
	ctx := context.Background()
	verified, _, err := createAccount(ctx, e, "v", storage.TierVerified)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(id string, preview ...uint32) error {
		_, err := publishWait(ctx, e, PublishRequest{Account: verified.ID, ClientMsgID: id, Preview: preview})
		return err
	}
	if err := publish("p", 1); err != nil { // previews do not count
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if err := publish(id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	err = publish("c")
	var q *QuotaError
	if !errors.As(err, &q) || !errors.Is(err, ErrQuotaExceeded) || q.Limit != 2 || !q.ResetAt.Equal(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("third broadcast: %v", err)
	}
	clock.Advance(time.Hour) // the next UTC day
	if err := publish("c"); err != nil {
		t.Fatalf("next day: %v", err)
	}
}
