package storage

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestTagsLifecycle(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	var vip, eu Tag
	commit(t, s, func(b *Batch) (err error) {
		if vip, err = b.CreateTag(1, "vip"); err != nil {
			return err
		}
		if eu, err = b.CreateTag(1, "eu"); err != nil {
			return err
		}
		if _, err := b.CreateTag(1, "vip"); !errors.Is(err, ErrExists) {
			t.Errorf("second vip: %v, want ErrExists", err)
		}
		if _, err := b.CreateTag(2, "vip"); err != nil { // names are per account
			return err
		}
		_, err = b.ChangeTag(1, "vip", []uint32{5, 1, 1 << 20, 5}, true)
		return err
	})
	if vip.ID == eu.ID || vip.ID == 0 {
		t.Fatalf("ids %d, %d", vip.ID, eu.ID)
	}
	got, err := s.TagByName(1, "vip")
	if err != nil || got.Members != 3 || got.Account != 1 {
		t.Fatalf("vip = %+v, %v", got, err)
	}
	if m, _ := s.TagMembers(vip.ID); !slices.Equal(ids(m), []uint32{1, 5, 1 << 20}) {
		t.Fatalf("members %v", ids(m))
	}
	tags, err := s.Tags(1)
	if err != nil || len(tags) != 2 || tags[0].Name != "eu" || tags[1].Name != "vip" {
		t.Fatalf("tags %+v, %v", tags, err)
	}

	commit(t, s, func(b *Batch) error {
		renamed, err := b.RenameTag(1, "vip", "gold")
		if err != nil || renamed.ID != vip.ID || renamed.Members != 3 {
			t.Errorf("rename: %+v %v", renamed, err)
		}
		if _, err := b.RenameTag(1, "gold", "eu"); !errors.Is(err, ErrExists) {
			t.Errorf("rename onto eu: %v", err)
		}
		if _, err := b.RenameTag(1, "nope", "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("rename unknown: %v", err)
		}
		removed, err := b.ChangeTag(1, "gold", []uint32{5, 99}, false)
		if err != nil || removed.Members != 2 {
			t.Errorf("remove: %+v %v", removed, err)
		}
		return nil
	})
	if _, err := s.TagByName(1, "vip"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old name still resolves: %v", err)
	}

	commit(t, s, func(b *Batch) error {
		_, err := b.DeleteTag(1, "gold")
		return err
	})
	if _, err := s.Tag(vip.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted tag: %v", err)
	}
	if m, _ := s.TagMembers(vip.ID); !m.IsEmpty() {
		t.Fatalf("deleted tag keeps members %v", ids(m))
	}

	// Ids are never reused, even after the highest is deleted and the store
	// reopened.
	var last Tag
	commit(t, s, func(b *Batch) (err error) {
		last, err = b.CreateTag(1, "late")
		return err
	})
	commit(t, s, func(b *Batch) error { _, err := b.DeleteTag(1, "late"); return err })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, fs)
	commit(t, s2, func(b *Batch) error {
		again, err := b.CreateTag(1, "again")
		if err == nil && again.ID <= last.ID {
			t.Errorf("id %d reused (last was %d)", again.ID, last.ID)
		}
		return err
	})
}

func TestCountReceivedKeepsLevels(t *testing.T) {
	s := openTest(t, nil)
	const month, top = 600, 3
	sends := []*roaring.Bitmap{
		roaring.BitmapOf(1, 2, 3, 1<<20),
		roaring.BitmapOf(1, 2, 1<<20),
		roaring.BitmapOf(1, 1<<20),
		roaring.BitmapOf(1, 7),
	}
	for _, a := range sends {
		commit(t, s, func(b *Batch) error { return b.CountReceived(9, month, top, a) })
	}
	want := map[uint8][]uint32{1: {1, 2, 3, 7, 1 << 20}, 2: {1, 2, 1 << 20}, 3: {1, 1 << 20}}
	for level, w := range want {
		got, err := s.ReceivedAtLeast(9, month, level)
		if err != nil || !slices.Equal(ids(got), w) {
			t.Errorf("level %d = %v, %v; want %v", level, ids(got), err, w)
		}
	}
	// A new month starts from nothing and removes the old one.
	commit(t, s, func(b *Batch) error { return b.CountReceived(9, month+1, top, roaring.BitmapOf(2)) })
	if got, _ := s.ReceivedAtLeast(9, month, 1); !got.IsEmpty() {
		t.Errorf("last month's levels kept: %v", ids(got))
	}
	if got, _ := s.ReceivedAtLeast(9, month+1, 1); !slices.Equal(ids(got), []uint32{2}) {
		t.Errorf("this month's level 1 = %v", ids(got))
	}
}

// TestCountReceivedMatchesACount: random broadcasts over users spread
// across several chunks (the last one too), some counted together in one
// batch, keep every level k exactly the users counted at least k times (at
// most top), as a plain count per user says — counted by the writer alone,
// and prepared beforehand (PrepareCount) with the writer taking what still
// holds (ApplyCount) and counting the rest itself; the writer reading the
// levels from Pebble and, once they are in the set cache, from there. The
// set cache's levels equal the committed ones.
func TestCountReceivedMatchesACount(t *testing.T) {
	for _, prepared := range []bool{false, true} {
		s := openTest(t, nil)
		const month, top, users = 600, 4, 3 << 16
		rng := rand.New(rand.NewPCG(11, 12))
		user := func() uint32 {
			if rng.IntN(10) == 0 {
				return 0xffff_ffff - uint32(rng.IntN(1000))
			}
			return 1 + uint32(rng.IntN(users))
		}
		count := map[uint32]int{}
		took := 0
		for round := 0; round < 40; round++ {
			var sends []*roaring.Bitmap
			var prep []*PreparedCount
			for range 1 + rng.IntN(3) {
				a := roaring.New()
				for range rng.IntN(3000) {
					a.Add(user())
				}
				a.Iterate(func(u uint32) bool {
					count[u] = min(count[u]+1, top)
					return true
				})
				sends = append(sends, a)
				if prepared {
					p, err := s.PrepareCount(9, month, top, a)
					if err != nil {
						t.Fatal(err)
					}
					prep = append(prep, p)
				}
			}
			commit(t, s, func(b *Batch) error {
				for i, a := range sends {
					if prepared {
						done, err := b.ApplyCount(prep[i], 9, month, top, a)
						if err != nil {
							return err
						}
						if done {
							took++
							continue
						}
					}
					if err := b.CountReceived(9, month, top, a); err != nil {
						return err
					}
				}
				return nil
			})
			if round == 10 {
				// From here on the writer finds the levels in the set
				// cache, as it does after a preparer or a publish read them.
				for level := uint8(1); level <= top; level++ {
					if _, err := s.SharedReceivedAtLeast(9, month, level); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if prepared && took == 0 {
			t.Error("the writer never took a prepared count")
		}
		for level := uint8(1); level <= top; level++ {
			var want []uint32
			for u, n := range count {
				if n >= int(level) {
					want = append(want, u)
				}
			}
			slices.Sort(want)
			got, err := s.ReceivedAtLeast(9, month, level)
			if err != nil || !slices.Equal(ids(got), want) {
				t.Errorf("prepared %v, level %d: %d users, %v; want %d", prepared, level, got.GetCardinality(), err, len(want))
			}
			cached, err := s.SharedReceivedAtLeast(9, month, level)
			if err != nil || !cached.Equals(got) {
				t.Errorf("prepared %v, level %d: %d users in the set cache, %v; %d committed", prepared, level, cached.GetCardinality(), err, got.GetCardinality())
			}
		}
	}
}

// TestPreparedCountHoldsOnlyWhileItsLevelsDo: the writer takes a prepared
// count only for the audience, month and top it was prepared for, and only
// while every level it read is unchanged: not after its own batch counted
// another broadcast of the account, nor after a commit did. What it did
// not take it wrote nothing of.
func TestPreparedCountHoldsOnlyWhileItsLevelsDo(t *testing.T) {
	s := openTest(t, nil)
	const account, month, top = 9, 600, 2
	commit(t, s, func(b *Batch) error { return b.CountReceived(account, month, top, roaring.BitmapOf(1, 2)) })
	prepare := func(users ...uint32) (*PreparedCount, *roaring.Bitmap) {
		t.Helper()
		a := roaring.BitmapOf(users...)
		p, err := s.PrepareCount(account, month, top, a)
		if err != nil {
			t.Fatal(err)
		}
		return p, a
	}
	apply := func(b *Batch, p *PreparedCount, a *roaring.Bitmap, m uint32, n uint8) bool {
		t.Helper()
		before := b.Count()
		done, err := b.ApplyCount(p, account, m, n, a)
		if err != nil {
			t.Fatal(err)
		}
		if !done && b.Count() != before {
			t.Errorf("a count not taken wrote %d records", b.Count()-before)
		}
		return done
	}

	p1, a1 := prepare(2, 3)
	p2, a2 := prepare(3, 4)
	b := s.NewBatch()
	if apply(b, p1, roaring.BitmapOf(2, 3), month, top) || apply(b, p1, a1, month+1, top) || apply(b, p1, a1, month, top+1) {
		t.Error("taken for another audience, month or top")
	}
	if !apply(b, p1, a1, month, top) {
		t.Fatal("the first of the batch not taken")
	}
	if apply(b, p2, a2, month, top) {
		t.Error("taken after the batch counted the account's broadcast before it")
	}
	if err := b.CountReceived(account, month, top, a2); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()

	p3, a3 := prepare(5)
	commit(t, s, func(b *Batch) error { return b.CountReceived(account, month, top, roaring.BitmapOf(6)) })
	b = s.NewBatch()
	if apply(b, p3, a3, month, top) {
		t.Error("taken after a commit counted the account's broadcast")
	}
	b.Close()
	p4, a4 := prepare(5)
	commit(t, s, func(b *Batch) error {
		if !apply(b, p4, a4, month, top) {
			t.Error("a count prepared after the last commit not taken")
		}
		return nil
	})

	want := map[uint8][]uint32{1: {1, 2, 3, 4, 5, 6}, 2: {2, 3}}
	for level, w := range want {
		got, err := s.ReceivedAtLeast(account, month, level)
		if err != nil || !slices.Equal(ids(got), w) {
			t.Errorf("level %d = %v, %v; want %v", level, ids(got), err, w)
		}
		cached, _ := s.SharedReceivedAtLeast(account, month, level)
		if !slices.Equal(ids(cached), w) {
			t.Errorf("level %d in the set cache = %v; want %v", level, ids(cached), w)
		}
	}
}

// TestWriterReadsTheCapFromMemory: the writer's at-cap set (a Batch's
// ReceivedAtLeast) comes from the set cache, and is still exact: it sees
// what its own batch counted, what earlier batches committed (written
// through), and a new month's start, which drops last month's levels.
func TestWriterReadsTheCapFromMemory(t *testing.T) {
	s := openTest(t, nil)
	const month, top = 600, 2
	atCap := func(b *Batch, m uint32) []uint32 {
		t.Helper()
		got, err := b.ReceivedAtLeast(9, m, top)
		if err != nil {
			t.Fatal(err)
		}
		return ids(got)
	}
	commit(t, s, func(b *Batch) error { return b.CountReceived(9, month, top, roaring.BitmapOf(1, 2, 1<<20)) })
	commit(t, s, func(b *Batch) error {
		if got := atCap(b, month); len(got) != 0 {
			t.Errorf("at the cap after one broadcast: %v", got)
		}
		// Two broadcasts in one group: the second sees the first.
		if err := b.CountReceived(9, month, top, roaring.BitmapOf(1, 3)); err != nil {
			return err
		}
		if got := atCap(b, month); !slices.Equal(got, []uint32{1}) {
			t.Errorf("at the cap within the batch = %v, want [1]", got)
		}
		return b.CountReceived(9, month, top, roaring.BitmapOf(1<<20))
	})
	if _, n := s.sets.cachedBytes(); n == 0 {
		t.Fatal("the at-cap level is not in the set cache")
	}
	want := []uint32{1, 1 << 20}
	b := s.NewBatch()
	if got := atCap(b, month); !slices.Equal(got, want) {
		t.Errorf("at the cap after the commit = %v, want %v", got, want)
	}
	b.Close()
	if got, _ := s.ReceivedAtLeast(9, month, top); !slices.Equal(ids(got), want) {
		t.Errorf("the store reads %v, want %v", ids(got), want)
	}
	// A new month drops the cached level of the last one with its keys.
	commit(t, s, func(b *Batch) error { return b.CountReceived(9, month+1, top, roaring.BitmapOf(5)) })
	b = s.NewBatch()
	defer b.Close()
	if got := atCap(b, month); len(got) != 0 {
		t.Errorf("last month's level still read after the new month began: %v", got)
	}
}

func TestQuotaCountDropsEarlierDays(t *testing.T) {
	s := openTest(t, nil)
	commit(t, s, func(b *Batch) error { return b.SetQuotaCount(3, 100, 2) })
	commit(t, s, func(b *Batch) error { return b.SetQuotaCount(3, 101, 1) })
	commit(t, s, func(b *Batch) error {
		if n, err := b.QuotaCount(3, 100); n != 0 || err != nil {
			t.Errorf("day 100 = %d, %v after day 101 was counted", n, err)
		}
		if n, err := b.QuotaCount(3, 101); n != 1 || err != nil {
			t.Errorf("day 101 = %d, %v", n, err)
		}
		return nil
	})
}

func TestFollowersAmongReadsOnlyListedChunks(t *testing.T) {
	s := openTest(t, nil)
	commit(t, s, func(b *Batch) error {
		_, err := b.AddFollowers(4, []uint32{1, 2, 1 << 20, 3 << 20})
		return err
	})
	got, err := s.FollowersAmong(4, roaring.BitmapOf(2, 5, 1<<20, 7<<20))
	if err != nil || !slices.Equal(ids(got), []uint32{2, 1 << 20}) {
		t.Fatalf("FollowersAmong = %v, %v", ids(got), err)
	}
}
