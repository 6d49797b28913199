package storage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// resolvedPublish is a publish whose audience was resolved and which waits
// for the writer, as in the engine's preparers.
type resolvedPublish struct {
	m    Broadcast
	aud  *roaring.Bitmap
	addr Addressing
}

// TestCatchUpIndexesMissNothing drives random histories as the engine
// makes them — follows and unfollows, publishes resolved from committed
// followers (some of them filtered) and applied by the writer a few group
// commits later in each account's order, previews to anyone, retention —
// and after every commit checks catch-up from the indexes, page by page,
// against a probe of every retained broadcast.
func TestCatchUpIndexesMissNothing(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			s := openTest(t, nil)
			const accounts, users = 4, 24
			var pending [accounts + 1][]resolvedPublish
			now := uint64(0)
			for step := 0; step < 300; step++ {
				b := s.NewBatch()
				for range 1 + rng.IntN(4) {
					account := uint32(1 + rng.IntN(accounts))
					switch r := rng.IntN(10); {
					case r < 3:
						var err error
						u := []uint32{uint32(1 + rng.IntN(users))}
						if rng.IntN(2) == 0 {
							_, err = b.AddFollowers(account, u)
						} else {
							_, err = b.RemoveFollowers(account, u)
						}
						if err != nil {
							t.Fatal(err)
						}
					case r < 6: // resolve from committed state, before the writer
						now++
						p := resolvedPublish{m: Broadcast{Account: account, TimeMillis: now, Payload: []byte{byte(step)}}}
						p.addr.Resolved = s.LastMessageID()
						if rng.IntN(5) == 0 {
							p.m.Preview = true
							p.aud = roaring.New()
							for range 1 + rng.IntN(4) {
								p.aud.Add(uint32(1 + rng.IntN(users)))
							}
							p.addr.Listed = p.aud
						} else {
							followers, err := s.FollowersShared(account)
							if err != nil {
								t.Fatal(err)
							}
							p.aud = followers.Clone()
							if rng.IntN(3) == 0 { // a tag expression, a blocklist
								p.aud.Remove(uint32(1 + rng.IntN(users)))
							}
						}
						pending[account] = append(pending[account], p)
					default: // the writer applies the account's oldest
						if len(pending[account]) == 0 {
							continue
						}
						p := pending[account][0]
						pending[account] = pending[account][1:]
						encoded, err := EncodeSet(p.aud)
						if err != nil {
							t.Fatal(err)
						}
						if _, err := b.AddEncodedBroadcast(p.m, encoded, p.addr); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := b.Commit(); err != nil {
					t.Fatal(err)
				}
				b.Close()
				if step%40 == 39 && now > 30 {
					if _, err := s.Retain(now - 30); err != nil {
						t.Fatal(err)
					}
				}
				for range 3 {
					user := uint32(1 + rng.IntN(users))
					cursor := uint64(rng.IntN(int(s.LastMessageID()) + 1))
					checkCatchUp(t, s, user, cursor)
				}
			}
			// Everything retained away: the listed entries and the walked
			// list are gone, and so are left records whose account's list
			// now starts above them.
			// (A broadcast resolved before another was committed has the R of
			// the last unfollows: the second round is resolved after.)
			for _, at := range []uint64{now + 1, now + 100} {
				for account := uint32(1); account <= accounts; account++ {
					commit(t, s, func(b *Batch) error {
						_, err := b.AddEncodedBroadcast(Broadcast{Account: account, TimeMillis: at}, EncodedSet{}, Addressing{Resolved: s.LastMessageID()})
						return err
					})
				}
			}
			if _, err := s.Retain(now + 50); err != nil {
				t.Fatal(err)
			}
			for _, p := range []byte{prefixListed, prefixWalked, prefixLeft} {
				if n := countPrefix(t, s, p); n != 0 {
					t.Errorf("%d keys of prefix %#x left after retention", n, p)
				}
			}
		})
	}
}

// checkCatchUp reads user's broadcasts after cursor in pages of 3 and
// compares them with a probe of every retained broadcast.
func checkCatchUp(t *testing.T, s *Store, user uint32, cursor uint64) {
	t.Helper()
	var want []uint64
	for id := max(cursor, s.FirstRetained()-1) + 1; id <= s.LastMessageID(); id++ {
		if _, err := s.Broadcast(id); err != nil {
			continue
		}
		if in, err := s.InAudience(id, user); err != nil {
			t.Fatal(err)
		} else if in {
			want = append(want, id)
		}
	}
	var got []uint64
	for from := cursor; ; {
		page, last, more, err := s.BroadcastsFor(user, from, 3, 1<<20, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			got = append(got, m.ID)
		}
		if last < from || len(page) > 3 {
			t.Fatalf("user %d after %d: page of %d, last %d", user, from, len(page), last)
		}
		if !more {
			if last != s.LastMessageID() {
				t.Fatalf("user %d: a last page ends at %d, not %d", user, last, s.LastMessageID())
			}
			break
		}
		from = last
	}
	if !slices.Equal(got, want) {
		t.Fatalf("user %d after %d: catch-up %v, the log holds %v", user, cursor, got, want)
	}
	got = nil
	if err := s.Addressed(user, cursor, s.LastMessageID(), func(m Broadcast) { got = append(got, m.ID) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("user %d after %d: addressed %v, the log holds %v", user, cursor, got, want)
	}
}

// TestCatchUpReadsOnlyTheUsersAccounts: the indexes lead catch-up past
// other accounts' broadcasts, and a follower who left still gets what was
// resolved while following, and nothing resolved after.
func TestCatchUpReadsOnlyTheUsersAccounts(t *testing.T) {
	s := openTest(t, nil)
	commit(t, s, func(b *Batch) error {
		if _, err := b.AddFollowers(1, []uint32{5, 6}); err != nil {
			return err
		}
		_, err := b.AddFollowers(2, []uint32{6})
		return err
	})
	publish := func(b *Batch, account uint32, aud *roaring.Bitmap, resolved uint64) uint64 {
		t.Helper()
		encoded, err := EncodeSet(aud)
		if err != nil {
			t.Fatal(err)
		}
		id, err := b.AddEncodedBroadcast(Broadcast{Account: account, Payload: []byte("x")}, encoded, Addressing{Resolved: resolved})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	var early, inFlight uint64
	commit(t, s, func(b *Batch) error {
		early = publish(b, 1, roaring.BitmapOf(5, 6), s.LastMessageID())
		for range 50 { // another account's
			publish(b, 2, roaring.BitmapOf(6), s.LastMessageID())
		}
		return nil
	})
	resolved := s.LastMessageID() // resolved now, applied after the unfollow
	commit(t, s, func(b *Batch) error {
		_, err := b.RemoveFollowers(1, []uint32{5})
		return err
	})
	var unsure uint64
	commit(t, s, func(b *Batch) error {
		inFlight = publish(b, 1, roaring.BitmapOf(5, 6), resolved)
		// Resolved after the unfollow, but before another id was
		// committed: R = L, a candidate the probe turns down.
		unsure = publish(b, 1, roaring.BitmapOf(6), s.LastMessageID())
		return nil
	})
	commit(t, s, func(b *Batch) error {
		for range 3 {
			publish(b, 1, roaring.BitmapOf(6), s.LastMessageID())
		}
		return nil
	})
	got, last, more, err := s.BroadcastsFor(5, 0, 100, 1<<20, 0)
	if err != nil || more || last != s.LastMessageID() {
		t.Fatalf("last %d, more %v, %v", last, more, err)
	}
	if len(got) != 2 || got[0].ID != early || got[1].ID != inFlight {
		t.Fatalf("user 5 got %d broadcasts, want %d and %d", len(got), early, inFlight)
	}
	// User 5 follows nothing now: catch-up reads account 1's list up to
	// the first broadcast resolved after an id committed after the
	// unfollow, and not account 2's 50.
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	indexes, err := s.catchUpIndexes(it, 5, s.LastMessageID())
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := gather(it, indexes, 0, s.LastMessageID())
	if want := []uint64{early, inFlight, unsure}; err != nil || !slices.Equal(ids, want) {
		t.Fatalf("user 5's candidates %v, %v; want %v", ids, err, want)
	}
}

// TestCatchUpWalksADatabaseFromBeforeTheIndexes: broadcasts stored before
// the indexes (no account list entry) are found by a walk of the log up
// to the id noted at the first open that has them.
func TestCatchUpWalksADatabaseFromBeforeTheIndexes(t *testing.T) {
	fs := vfs.NewMem()
	s := openTest(t, fs)
	var old uint64
	commit(t, s, func(b *Batch) (err error) {
		if _, err = b.AddFollowers(1, []uint32{5}); err != nil {
			return err
		}
		encoded, err := EncodeSet(roaring.BitmapOf(5))
		if err != nil {
			return err
		}
		old, err = b.AddEncodedBroadcast(Broadcast{Account: 1, Payload: []byte("old")}, encoded, Addressing{})
		return err
	})
	// What an older Herald left: no list entry, no note.
	for _, key := range [][]byte{accountLogKey(1, old), indexedFromKey} {
		if err := s.db.Delete(key, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open("db", Options{fs: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.indexedFrom != old {
		t.Fatalf("indexed from %d, want %d", s.indexedFrom, old)
	}
	var next uint64
	commit(t, s, func(b *Batch) (err error) {
		encoded, err := EncodeSet(roaring.BitmapOf(5))
		if err != nil {
			return err
		}
		next, err = b.AddEncodedBroadcast(Broadcast{Account: 1, TimeMillis: 10, Payload: []byte("new")}, encoded, Addressing{Resolved: s.LastMessageID()})
		return err
	})
	got, _, _, err := s.BroadcastsFor(5, 0, 10, 1<<20, 0)
	if err != nil || len(got) != 2 || got[0].ID != old || got[1].ID != next {
		t.Fatalf("catch-up %v, %v; want %d and %d", got, err, old, next)
	}
	// Retention past the noted id ends the walk.
	if n, err := s.Retain(5); err != nil || n != 1 {
		t.Fatalf("retained away %d, %v", n, err)
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	indexes, err := s.catchUpIndexes(it, 5, s.LastMessageID())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range indexes {
		if c.prefix[0] == prefixBroadcast {
			t.Fatal("catch-up still walks the log after retention passed the noted id")
		}
	}
}
