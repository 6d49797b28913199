package storage

import (
	"errors"
	"reflect"
	"testing"
)

// TestFollowStatsCountInTheBatch: counts added twice in one batch add up
// (the batch reads its own writes), read back in day and source order
// with the follower count of the same moment; a corrupt value is
// ErrCorrupt.
func TestFollowStatsCountInTheBatch(t *testing.T) {
	s := openTest(t, nil)
	commit(t, s, func(b *Batch) error {
		if _, err := b.AddFollowers(1, []uint32{5, 6, 7}); err != nil {
			return err
		}
		for _, c := range []struct {
			day    uint32
			source string
			f, u   uint64
		}{{10, "qr", 2, 0}, {10, "qr", 1, 0}, {10, "", 0, 1}, {9, "import", 4, 0}, {12, "", 0, 2}} {
			if err := b.CountFollows(1, c.day, c.source, c.f, c.u); err != nil {
				return err
			}
		}
		return b.CountFollows(2, 10, "other account", 9, 9)
	})
	count, days, err := s.FollowStats(1, 10)
	want := []FollowDay{{Day: 10, Source: "", Unfollows: 1}, {Day: 10, Source: "qr", Follows: 3}, {Day: 12, Source: "", Unfollows: 2}}
	if err != nil || count != 3 || !reflect.DeepEqual(days, want) {
		t.Fatalf("count %d, days %+v, %v; want 3 and %+v", count, days, err, want)
	}
	b := s.NewBatch()
	defer b.Close()
	if err := b.CountFollows(1, 10, string(make([]byte, MaxSourceLen+1)), 1, 0); err == nil {
		t.Fatal("a source over the limit was counted")
	}
	if err := b.set(followStatsKey(1, 11, "x"), []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.FollowStats(1, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a corrupt value: %v, want ErrCorrupt", err)
	}
}
