package storage

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestAudienceCacheOnlyHoldsCommittedAudiences: asking about a broadcast
// id before it is committed must not cache "not in the audience" for it.
func TestAudienceCacheOnlyHoldsCommittedAudiences(t *testing.T) {
	s := openTest(t, nil)
	if in, err := s.InAudience(1, 7); in || err != nil {
		t.Fatalf("uncommitted broadcast: in %v, %v", in, err)
	}
	commit(t, s, func(b *Batch) error {
		_, err := b.AddBroadcast(Broadcast{Account: 1, TimeMillis: 1000}, roaring.BitmapOf(7, 1<<20))
		return err
	})
	for range 2 { // the second answer comes from the cache
		for user, want := range map[uint32]bool{7: true, 8: false, 1 << 20: true, 1<<20 + 1: false, 1 << 30: false} {
			if in, err := s.InAudience(1, user); in != want || err != nil {
				t.Fatalf("user %d: in %v, %v; want %v", user, in, err, want)
			}
		}
	}
	// The manifest answers for the chunk the audience lacks: no read.
	if n, m := len(s.audiences.entries), len(s.audiences.manifests); n != 2 || m != 1 {
		t.Fatalf("%d chunks and %d manifests cached, want 2 (those present) and 1", n, m)
	}
}

// TestAudienceCacheKeepsToItsBudget: the oldest chunks leave once the
// cache is over budget, and a chunk larger than the budget is not kept.
func TestAudienceCacheKeepsToItsBudget(t *testing.T) {
	chunk := roaring.New()
	chunk.AddRange(0, 1000) // one run: a few bytes
	size := int64(chunk.GetSizeInBytes()) + audienceEntryOverhead
	c := newAudienceCache(10 * size)
	for i := range 25 {
		c.put(audienceChunk{message: uint64(i)}, chunk)
		if c.bytes > c.budget {
			t.Fatalf("after %d puts: %d bytes over a budget of %d", i+1, c.bytes, c.budget)
		}
	}
	if len(c.entries) != 10 {
		t.Fatalf("%d entries, want 10", len(c.entries))
	}
	if _, ok := c.get(audienceChunk{message: 14}); ok {
		t.Fatal("an old entry survived")
	}
	if _, ok := c.get(audienceChunk{message: 24}); !ok {
		t.Fatal("the newest entry was evicted")
	}
	big := roaring.New()
	for u := uint32(0); u < 1<<16; u += 2 {
		big.Add(u)
	}
	c.put(audienceChunk{message: 99}, big)
	if _, ok := c.get(audienceChunk{message: 99}); ok || len(c.entries) != 10 {
		t.Fatalf("a chunk over the whole budget was cached (%d entries)", len(c.entries))
	}
}
