package storage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"
)

// importBatch is the admin import's batch (server/admin.go).
const importBatch = 1 << 20

// importFollowers adds users to account in committed (fsynced) batches of
// importBatch, as the admin import does.
func importFollowers(b testing.TB, s *Store, account uint32, users []uint32) {
	for start := 0; start < len(users); start += importBatch {
		part := slices.Clone(users[start:min(start+importBatch, len(users))])
		commit(b, s, func(bt *Batch) error {
			_, err := bt.AddFollowers(account, part)
			return err
		})
	}
}

func denseUsers(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i + 1)
	}
	return out
}

// sparseUsers draws n distinct ids uniformly from the whole 32-bit space.
func sparseUsers(n int) []uint32 {
	rng := rand.New(rand.NewPCG(7, 7))
	set := roaring.New()
	for missing := n; missing > 0; missing = n - int(set.GetCardinality()) {
		for range missing {
			set.Add(rng.Uint32())
		}
	}
	return set.ToArray()
}

// BenchmarkImport: bulk import of 4,000,000 follows into an on-disk store,
// in fsynced batches of importBatch.
func BenchmarkImport(b *testing.B) {
	for _, tc := range []struct {
		name  string
		users []uint32
	}{
		{"dense", denseUsers(4_000_000)},
		{"sparse", sparseUsers(4_000_000)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var bytes int64
			for b.Loop() {
				b.StopTimer()
				s, err := Open(b.TempDir(), Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				importFollowers(b, s, 1, tc.users)
				b.StopTimer()
				bytes = setBytes(b, s, followerPrefix(1))
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(tc.users))*float64(b.N)/b.Elapsed().Seconds(), "follows/s")
			b.ReportMetric(float64(bytes)/float64(len(tc.users)), "stored-B/follower")
		})
	}
}

// setBytes sums the sizes of the values under a set's prefix.
func setBytes(b testing.TB, s *Store, prefix []byte) int64 {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	var total int64
	for valid := it.First(); valid; valid = it.Next() {
		total += int64(len(it.Key()) + len(it.Value()))
	}
	return total
}

// clusteredUsers draws n distinct ids uniformly from 1..4n: a quarter of a
// dense id range, as the followers of a large account among the users of a
// service (bitmap containers of ~16,000 members).
func clusteredUsers(n int) []uint32 {
	rng := rand.New(rand.NewPCG(9, 9))
	set := roaring.New()
	for missing := n; missing > 0; missing = n - int(set.GetCardinality()) {
		for range missing {
			set.Add(1 + rng.Uint32N(uint32(4*n)))
		}
	}
	return set.ToArray()
}

// BenchmarkResolveAudience: read a 10,000,000-follower set (clustered ids)
// and subtract a 100,000-user blocklist, as a publish to all followers does.
func BenchmarkResolveAudience(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	importFollowers(b, s, 1, clusteredUsers(10_000_000))
	blocked := clusteredUsers(100_000)
	commit(b, s, func(bt *Batch) error {
		_, err := bt.Block(1, blocked)
		return err
	})
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	var size uint64
	for b.Loop() {
		followers, err := s.Followers(1)
		if err != nil {
			b.Fatal(err)
		}
		block, err := s.Blocked(1)
		if err != nil {
			b.Fatal(err)
		}
		followers.AndNot(block)
		size = followers.GetCardinality()
	}
	b.ReportMetric(float64(size), "audience")
}

// BenchmarkCatchUp: the storage side of a reconnect storm. 100 broadcasts,
// each frozen with a 1,000,000-follower audience (users 1..1M less every
// 11th, as if blocked, so chunks are 8 KiB bitmaps), then clients
// 1..18,000 each read what they missed, as RESUME does. One op is one
// client's catch-up. "uncached" gives the audience cache too small a
// budget to hold a chunk: every membership test reads and decodes one.
// "cached" and "uncached" put the broadcasts on the walked list
// (AddBroadcast: catch-up probes every one, as it did every broadcast
// before the indexes); "indexed" is the writer's way, the audience the
// account's followers, found from the account's list.
func BenchmarkCatchUp(b *testing.B) {
	for _, c := range []struct {
		name    string
		budget  int64
		indexed bool
	}{{"cached", 0, false}, {"uncached", 1, false}, {"indexed", 0, true}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{AudienceCacheBytes: c.budget})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			audience := roaring.New()
			for u := uint32(1); u <= 1_000_000; u++ {
				if u%11 != 0 {
					audience.Add(u)
				}
			}
			encoded, err := EncodeSet(audience)
			if err != nil {
				b.Fatal(err)
			}
			if c.indexed {
				commit(b, s, func(bt *Batch) error {
					_, err := bt.AddFollowers(1, audience.ToArray())
					return err
				})
			}
			payload := make([]byte, 256)
			for range 100 {
				commit(b, s, func(bt *Batch) (err error) {
					m := Broadcast{Account: 1, TimeMillis: 1000, Payload: payload}
					if c.indexed {
						_, err = bt.AddEncodedBroadcast(m, encoded, Addressing{Resolved: s.LastMessageID()})
					} else {
						_, err = bt.AddBroadcast(m, audience)
					}
					return err
				})
			}
			if err := s.db.Flush(); err != nil {
				b.Fatal(err)
			}
			user := uint32(0)
			for b.Loop() {
				if user = user%18_000 + 1; user%11 == 0 {
					user++
				}
				found, _, _, err := s.BroadcastsFor(user, 0, 1000, 4<<20, 2000)
				if err != nil || len(found) != 100 {
					b.Fatalf("user %d: %d broadcasts, %v", user, len(found), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/delivery")
		})
	}
}

// BenchmarkCatchUpAccounts: catch-up among many accounts. 200 accounts
// publish 50 broadcasts each, interleaved (10,000 in the log), each to its
// own 100 followers; user 1 follows k of them. One op is user 1's whole
// catch-up from cursor 0 (k × 50 broadcasts, in pages of 1,000).
// "indexed": the writer's broadcasts, found from the account lists;
// "walked": the same broadcasts on the walked list (AddBroadcast), every
// one probed, as catch-up did for all before the indexes.
func BenchmarkCatchUpAccounts(b *testing.B) {
	const accounts, each = 200, 50
	for _, walked := range []bool{false, true} {
		for _, k := range []int{5, 50} {
			name := fmt.Sprintf("indexed/follows=%d", k)
			if walked {
				name = fmt.Sprintf("walked/follows=%d", k)
			}
			b.Run(name, func(b *testing.B) {
				s, err := Open(b.TempDir(), Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				audiences := make([]*roaring.Bitmap, accounts+1)
				commit(b, s, func(bt *Batch) error {
					for a := uint32(1); a <= accounts; a++ {
						users := make([]uint32, 0, 101)
						for u := range uint32(100) {
							users = append(users, 1000+a*100+u)
						}
						if a <= uint32(k) {
							users = append(users, 1)
						}
						audiences[a] = roaring.BitmapOf(users...)
						if _, err := bt.AddFollowers(a, users); err != nil {
							return err
						}
					}
					return nil
				})
				payload := make([]byte, 256)
				for range each {
					commit(b, s, func(bt *Batch) error {
						for a := uint32(1); a <= accounts; a++ {
							m := Broadcast{Account: a, TimeMillis: 1000, Payload: payload}
							var err error
							if walked {
								_, err = bt.AddBroadcast(m, audiences[a])
							} else {
								var encoded EncodedSet
								if encoded, err = EncodeSet(audiences[a]); err == nil {
									_, err = bt.AddEncodedBroadcast(m, encoded, Addressing{Resolved: s.LastMessageID()})
								}
							}
							if err != nil {
								return err
							}
						}
						return nil
					})
				}
				if err := s.db.Flush(); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					n := 0
					for from, more := uint64(0), true; more; {
						var page []Broadcast
						page, from, more, err = s.BroadcastsFor(1, from, 1000, 4<<20, 2000)
						if err != nil {
							b.Fatal(err)
						}
						n += len(page)
					}
					if n != k*each {
						b.Fatalf("%d broadcasts, want %d", n, k*each)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(k*each), "ns/delivery")
			})
		}
	}
}

// BenchmarkFreezeAudience10M: one broadcast to 10,000,000 followers spread
// over 20,000,000 ids (305 chunks, each an 8 KiB bitmap), committed as the
// writer does, after one broadcast to the same audience. "same": the
// followers did not change, the audience refers to the previous one's
// chunks; "oneChanged": one chunk differs each time; "unshared": no memory
// of the previous audience (LastAudienceBytes -1), every chunk stored
// again, as before audiences were stored by reference. written-B is what
// the commit wrote to the log.
func BenchmarkFreezeAudience10M(b *testing.B) {
	for _, c := range []struct {
		name    string
		opts    Options
		changed bool
	}{
		{"same", Options{}, false},
		{"oneChanged", Options{}, true},
		{"unshared", Options{LastAudienceBytes: -1}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := Open(b.TempDir(), c.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			audience := spread10M()
			encoded, err := EncodeSet(audience)
			if err != nil {
				b.Fatal(err)
			}
			freeze := func(set EncodedSet) {
				commit(b, s, func(bt *Batch) error {
					_, err := bt.AddEncodedBroadcast(Broadcast{Account: 1, TimeMillis: 1}, set, Addressing{})
					return err
				})
			}
			freeze(encoded)
			variants := [2]EncodedSet{}
			if c.changed {
				for i := range variants {
					other := audience.Clone()
					other.Remove(uint32(1 + 2*i))
					if variants[i], err = EncodeSet(other); err != nil {
						b.Fatal(err)
					}
				}
			}
			before := s.WrittenBytes()
			i := 0
			for b.Loop() {
				set := encoded
				if c.changed {
					set = variants[i%2]
				}
				freeze(set)
				i++
			}
			b.ReportMetric(float64(s.WrittenBytes()-before)/float64(i), "written-B/op")
		})
	}
}

// BenchmarkCountReceived10M: what the writer does for the first broadcast
// of a month of a capped tier (the service tier's 4 a month) to
// 10,000,000 followers spread over 20,000,000 ids: level 1 of each of the
// 305 chunks written (and the month before dropped), then committed; an op
// is one such broadcast, each in a month of its own.
func BenchmarkCountReceived10M(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	audience := spread10M()
	month := uint32(0)
	for b.Loop() {
		month++
		commit(b, s, func(bt *Batch) error { return bt.CountReceived(1, month, 4, audience) })
	}
}

// BenchmarkCountReceivedMidMonth10M: the count of a broadcast to
// 10,000,000 followers (spread10M) of a capped tier (4 a month) in the
// middle of a month, when earlier broadcasts each reached a random part of
// them (80%, then 50%, then 20%: followers at every level from 0 to 3):
// each iteration counts one more broadcast to all of them, by the writer
// alone in a batch that is then dropped (writer), or prepared off the
// writer from the set cache (prepare) and then taken by the writer in a
// batch that is then dropped (apply), or by the writer alone once the
// levels are in the set cache and a commit changed one since (cached: as
// when the account's broadcast before committed after this one was
// prepared; the writer folds that change in).
func BenchmarkCountReceivedMidMonth10M(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const month = 1
	audience := spread10M()
	rng := rand.New(rand.NewPCG(5, 5))
	for _, share := range []float64{0.8, 0.5, 0.2} {
		part := roaring.New()
		audience.Iterate(func(u uint32) bool {
			if rng.Float64() < share {
				part.Add(u)
			}
			return true
		})
		commit(b, s, func(bt *Batch) error { return bt.CountReceived(1, month, 4, part) })
	}
	b.Run("writer", func(b *testing.B) {
		for b.Loop() {
			bt := s.NewBatch()
			if err := bt.CountReceived(1, month, 4, audience); err != nil {
				b.Fatal(err)
			}
			bt.Close()
		}
	})
	var p *PreparedCount
	b.Run("prepare", func(b *testing.B) {
		for b.Loop() {
			if p, err = s.PrepareCount(1, month, 4, audience); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("apply", func(b *testing.B) {
		if p == nil {
			if p, err = s.PrepareCount(1, month, 4, audience); err != nil {
				b.Fatal(err)
			}
		}
		for b.Loop() {
			bt := s.NewBatchSized(p.BatchBytes()) // as the engine's writer does
			if done, err := bt.ApplyCount(p, 1, month, 4, audience); err != nil || !done {
				b.Fatal("not taken: ", err)
			}
			bt.Close()
		}
	})
	b.Run("cached", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			for level := uint8(1); level <= 4; level++ {
				if _, err := s.SharedReceivedAtLeast(1, month, level); err != nil {
					b.Fatal(err)
				}
			}
			other := roaring.BitmapOf(2 * uint32(1+i)) // an even id: not one of the audience
			commit(b, s, func(bt *Batch) error { return bt.CountReceived(1, month, 4, other) })
			b.StartTimer()
			bt := s.NewBatch()
			if err := bt.CountReceived(1, month, 4, audience); err != nil {
				b.Fatal(err)
			}
			bt.Close()
		}
	})
}

// spread10M is 10,000,000 followers spread over 20,000,000 ids: the odd
// ones, so that each of the 305 chunks is a full 8 KiB bitmap.
func spread10M() *roaring.Bitmap {
	audience := roaring.New()
	for u := uint32(1); u <= 20_000_000; u += 2 {
		audience.Add(u)
	}
	return audience
}
