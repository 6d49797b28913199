package storage

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestRetentionRemovesAPrefixAndKeepsIDsMonotonic(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	for i, at := range []uint64{1000, 2000, 3000} {
		commit(t, s, func(b *Batch) error {
			_, err := b.AddBroadcast(Broadcast{Account: 1, TimeMillis: at, Payload: []byte{byte(i)}}, roaring.BitmapOf(7))
			return err
		})
	}
	// Warm the audience cache with a broadcast retention will remove.
	if in, err := s.InAudience(2, 7); !in || err != nil {
		t.Fatalf("user 7 not in broadcast 2's audience: %v", err)
	}
	if n, err := s.Retain(2500); err != nil || n != 2 {
		t.Fatalf("removed %d, %v; want 2", n, err)
	}
	if s.FirstRetained() != 3 {
		t.Fatalf("first retained = %d", s.FirstRetained())
	}
	if _, err := s.Broadcast(1); err == nil {
		t.Fatal("broadcast 1 survived retention")
	}
	if in, _ := s.InAudience(2, 7); in {
		t.Fatal("audience of broadcast 2 survived retention")
	}
	got, _, _, err := s.BroadcastsFor(7, 0, 10, 1<<20, 0)
	if err != nil || len(got) != 1 || got[0].ID != 3 {
		t.Fatalf("catch-up after retention: %v, %v", got, err)
	}
	// Remove everything, reopen: the next id continues after the old ones.
	if n, _ := s.Retain(10000); n != 1 {
		t.Fatalf("second retain removed %d", n)
	}
	if n, _ := s.Retain(10000); n != 0 {
		t.Fatalf("idle retain removed %d", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open("db", Options{fs: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.LastMessageID() != 3 || s2.FirstRetained() != 4 {
		t.Fatalf("after reopen: last %d, first retained %d", s2.LastMessageID(), s2.FirstRetained())
	}
	var id uint64
	commit(t, s2, func(b *Batch) (err error) {
		id, err = b.AddBroadcast(Broadcast{Account: 1, TimeMillis: 20000}, roaring.BitmapOf(7))
		return err
	})
	if id != 4 {
		t.Fatalf("new id after everything was removed = %d, want 4", id)
	}
}
