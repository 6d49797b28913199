package storage

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestSetCacheIsWrittenThrough: follower, tag and blocklist sets read
// through the cache equal what is committed after every kind of change —
// follows and unfollows across chunks (the last one too), tag changes and a tag's deletion,
// blocks — and a batch that never commits changes nothing; a reader's
// copy is its own.
func TestSetCacheIsWrittenThrough(t *testing.T) {
	s := openTest(t, nil)
	const account = 1
	var tag Tag
	commit(t, s, func(b *Batch) (err error) {
		if _, err = b.CreateAccount(Account{Name: "a", Tier: TierService}); err != nil {
			return err
		}
		tag, err = b.CreateTag(account, "vip")
		return err
	})
	check := func(when string) {
		t.Helper()
		for _, c := range []struct {
			what   string
			cached func() (*roaring.Bitmap, error)
			set    chunkedSet
		}{
			{"followers", func() (*roaring.Bitmap, error) { return s.Followers(account) }, followerSet(account)},
			{"blocklist", func() (*roaring.Bitmap, error) { return s.Blocked(account) }, blockedSet(account)},
			{"tag", func() (*roaring.Bitmap, error) { return s.TagMembers(tag.ID) }, tagMembers(tag.ID)},
		} {
			got, err := c.cached()
			if err != nil {
				t.Fatal(err)
			}
			want, err := c.set.read(s.db)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equals(want) {
				t.Fatalf("%s: %s through the cache has %d members, committed %d", when, c.what, got.GetCardinality(), want.GetCardinality())
			}
			if c.what == "followers" {
				got.Add(999_999_999) // the reader's own copy
			}
		}
	}
	check("empty")
	commit(t, s, func(b *Batch) error {
		_, err := b.AddFollowers(account, []uint32{1, 2, 70_000, 140_000, 0xffff_fff0, 0xffff_ffff})
		return err
	})
	check("after follows") // loads into the cache
	commit(t, s, func(b *Batch) error {
		if _, err := b.AddFollowers(account, []uint32{3, 200_000}); err != nil {
			return err
		}
		// The last chunk too: its end is past uint16's.
		if _, err := b.RemoveFollowers(account, []uint32{70_000, 0xffff_ffff}); err != nil {
			return err
		}
		if _, err := b.ChangeTag(account, "vip", []uint32{2, 140_000}, true); err != nil {
			return err
		}
		_, err := b.Block(account, []uint32{1})
		return err
	})
	check("after changes written through")
	b := s.NewBatch()
	if _, err := b.AddFollowers(account, []uint32{5}); err != nil {
		t.Fatal(err)
	}
	b.Close() // never committed
	check("after a batch that did not commit")
	commit(t, s, func(b *Batch) error {
		_, err := b.DeleteTag(account, "vip")
		return err
	})
	check("after the tag's deletion")
	if n, _ := s.sets.cachedBytes(); n <= 0 {
		t.Fatalf("the cache holds %d bytes", n)
	}
}

// TestSetCacheBudget: the cache holds no more than its budget, dropping
// the least recently read sets first, and a store with none reads the
// database every time.
func TestSetCacheBudget(t *testing.T) {
	s, err := Open("db", Options{fs: vfs.NewMem(), SetCacheBytes: 3 * (setOverhead + 64)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for account := uint32(1); account <= 5; account++ {
		commit(t, s, func(b *Batch) error {
			if _, err := b.CreateAccount(Account{Name: "a", Tier: TierService}); err != nil {
				return err
			}
			_, err := b.AddFollowers(account, []uint32{account})
			return err
		})
		if _, err := s.Followers(account); err != nil {
			t.Fatal(err)
		}
	}
	bytes, n := s.sets.cachedBytes()
	if bytes > s.sets.budget || n == 0 || n >= 5 {
		t.Fatalf("%d bytes in %d sets, budget %d", bytes, n, s.sets.budget)
	}
	if s.sets.entries[string(followerPrefix(5))] == nil || s.sets.entries[string(followerPrefix(1))] != nil {
		t.Fatalf("kept the wrong sets: %v", s.sets.entries)
	}
	none, err := Open("none", Options{fs: vfs.NewMem(), SetCacheBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer none.Close()
	if _, err := none.Followers(1); err != nil {
		t.Fatal(err)
	}
	if bytes, n := none.sets.cachedBytes(); bytes != 0 || n != 0 {
		t.Fatalf("a store without a set cache holds %d sets", n)
	}
}

// BenchmarkSetCacheWriteThrough10M: what the writer pays to keep a cached
// set of 10,000,000 followers (spread over 40,000,000 ids, as
// BenchmarkResolveAudience10M's) exact after a commit that changed one of
// its chunks: the chunk waits on the set for its next reader.
func BenchmarkSetCacheWriteThrough10M(b *testing.B) {
	c := newSetCache(1 << 30)
	set := roaring.New() // every 4th id of 1..40,000,000: 611 dense containers
	for u := uint32(4); u <= 40_000_000; u += 4 {
		set.Add(u)
	}
	prefix := followerPrefix(1)
	if _, err := c.shared(prefix, func() (*roaring.Bitmap, error) { return set, nil }); err != nil {
		b.Fatal(err)
	}
	chunk := roaring.New()
	chunk.AddRange(5<<16, 5<<16+1000)
	load := func() (*roaring.Bitmap, error) { return set, nil }
	for i := 0; b.Loop(); i++ {
		if i%1000 == 999 { // fold, so the set stays cached
			b.StopTimer()
			if _, err := c.shared(prefix, load); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		c.apply([]setChange{{prefix: string(prefix), high: 5, chunk: chunk}}, nil, nil)
	}
	if _, n := c.cachedBytes(); n != 1 {
		b.Fatalf("the set left the cache")
	}
}

// BenchmarkSetCacheFold10M: what the first read after such a commit pays
// (off the writer): a copy of the set with the changed chunk replaced.
func BenchmarkSetCacheFold10M(b *testing.B) {
	c := newSetCache(1 << 30)
	set := roaring.New()
	for u := uint32(4); u <= 40_000_000; u += 4 {
		set.Add(u)
	}
	prefix := followerPrefix(1)
	if _, err := c.shared(prefix, func() (*roaring.Bitmap, error) { return set, nil }); err != nil {
		b.Fatal(err)
	}
	chunk := roaring.New()
	chunk.AddRange(5<<16, 5<<16+1000)
	for b.Loop() {
		c.apply([]setChange{{prefix: string(prefix), high: 5, chunk: chunk}}, nil, nil)
		if _, err := c.shared(prefix, func() (*roaring.Bitmap, error) { return set, nil }); err != nil {
			b.Fatal(err)
		}
	}
}
