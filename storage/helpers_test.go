package storage

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// openTest opens a store on fs (a fresh in-memory one when nil) and closes
// it when the test ends unless the test closes it first.
func openTest(t testing.TB, fs vfs.FS) *Store {
	t.Helper()
	if fs == nil {
		fs = vfs.NewMem()
	}
	s, err := Open("db", Options{fs: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// commit runs fn in a batch and commits it.
func commit(t testing.TB, s *Store, fn func(b *Batch) error) {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	if err := fn(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
}

func ids(bm *roaring.Bitmap) []uint32 { return bm.ToArray() }
