package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"herald/internal/lru"
	"herald/storage/internal/codec"
)

// Frozen audiences by reference.
//
// A broadcast's audience is stored as a manifest (0x1e | message) of runs
// of chunks, each run naming the message that stored those chunks: the
// broadcast itself (the chunk is under 0x07 | message | high16) or an
// earlier broadcast of the same account whose chunk holds exactly the same
// bytes. An account publishing again to followers that did not change
// stores one run, a few bytes, instead of every chunk again; "is user u in
// broadcast m" stays one chunk read (the manifest is cached).
//
// A chunk referred to by later broadcasts outlives its own broadcast until
// the last of them is gone: its origin's uses (0x1f | origin) hold, per
// chunk, the newest message that refers to it. Retention removes a prefix
// of the log, so a chunk is still needed exactly when that newest referrer
// is kept; Retain writes such chunks again after it deletes their
// broadcast's range, and deletes them in the first sweep that removes
// their last referrer.
//
// Sharing is decided by the writer against the account's previous audience
// (kept in memory, bounded: lastAudiences), never against an origin at or
// below the retention floor, and under audienceMu's read lock from the
// first audience a batch writes until it commits or closes; Retain holds
// the write lock while it reads the uses and commits, so no batch refers to
// a chunk a sweep is freeing.

// minSharedChunk: chunks smaller than this are stored again rather than
// referred to; the run and the uses update would cost as much.
const minSharedChunk = 64

func manifestKey(message uint64) []byte { return broadcastKeyWith(prefixManifest, message) }

func usesKey(origin uint64) []byte { return broadcastKeyWith(prefixChunkUses, origin) }

// chunkRange bounds origin's stored chunks first..last.
func chunkRange(origin uint64, first, last uint16) (lower, upper []byte) {
	lower = audienceChunkKey(origin, first)
	if last == 0xffff {
		return lower, prefixEnd(audiencePrefix(origin))
	}
	return lower, audienceChunkKey(origin, last+1)
}

// lastAudience is an account's newest stored audience: its chunks of at
// least minSharedChunk bytes, in order, with the message storing each.
type lastAudience struct {
	highs   []uint16
	origins []uint64
	values  [][]byte
	size    int64
}

// lastAudiences holds the accounts' newest audiences, least recently used
// leaving first over the budget.
type lastAudiences = lru.Cache[uint32, *lastAudience]

func newLastAudiences(budget int64) *lastAudiences { return lru.New[uint32, *lastAudience](budget) }

// extendRuns appends high with value to runs, growing the last run when
// high follows it with the same value.
func extendRuns(runs []codec.Run, high uint16, value uint64) []codec.Run {
	return appendRun(runs, codec.Run{First: high, Last: high, Value: value})
}

func appendRun(runs []codec.Run, r codec.Run) []codec.Run {
	if n := len(runs); n > 0 {
		last := &runs[n-1]
		if last.Value == r.Value && last.Last != 0xffff && last.Last+1 == r.First {
			last.Last = r.Last
			return runs
		}
	}
	return append(runs, r)
}

// overlayRuns returns base with top's values over the chunks top covers.
func overlayRuns(base, top []codec.Run) []codec.Run {
	base = slices.Clone(base)
	var out []codec.Run
	i := 0
	for _, t := range top {
		for i < len(base) && base[i].Last < t.First {
			out = appendRun(out, base[i])
			i++
		}
		if i < len(base) && base[i].First < t.First {
			out = appendRun(out, codec.Run{First: base[i].First, Last: t.First - 1, Value: base[i].Value})
		}
		out = appendRun(out, t)
		for i < len(base) && base[i].Last <= t.Last {
			i++
		}
		if i < len(base) && base[i].First <= t.Last {
			base[i].First = t.Last + 1
		}
	}
	for ; i < len(base); i++ {
		out = appendRun(out, base[i])
	}
	return out
}

// writeAudience stores message id's frozen audience, referring to the
// chunks of the account's previous audience that it shares.
func (b *Batch) writeAudience(id uint64, account uint32, set EncodedSet) error {
	if !b.audienceLocked {
		b.store.audienceMu.RLock()
		b.audienceLocked = true
	}
	prev := b.audiences[account]
	if prev == nil {
		prev, _ = b.store.lastAudiences.Get(account)
	}
	floor := b.store.floor.Load()
	next := &lastAudience{}
	var manifest []codec.Run
	refs := map[uint64][]codec.Run{}
	j := 0
	for i, high := range set.highs {
		v := set.values[i]
		origin := id
		if len(v) >= minSharedChunk && prev != nil {
			for j < len(prev.highs) && prev.highs[j] < high {
				j++
			}
			if j < len(prev.highs) && prev.highs[j] == high && prev.origins[j] > floor && bytes.Equal(prev.values[j], v) {
				origin = prev.origins[j]
			}
		}
		if origin == id {
			if err := b.set(audienceChunkKey(id, high), v); err != nil {
				return err
			}
		} else {
			refs[origin] = extendRuns(refs[origin], high, id)
		}
		manifest = extendRuns(manifest, high, origin)
		if len(v) >= minSharedChunk {
			next.highs = append(next.highs, high)
			next.origins = append(next.origins, origin)
			next.values = append(next.values, v)
			next.size += int64(len(v)) + 16
		}
	}
	if err := b.set(manifestKey(id), codec.EncodeRuns(manifest)); err != nil {
		return err
	}
	for _, origin := range slices.Sorted(maps.Keys(refs)) {
		if err := b.markUses(origin, refs[origin]); err != nil {
			return err
		}
	}
	if b.audiences == nil {
		b.audiences = map[uint32]*lastAudience{}
	}
	b.audiences[account] = next
	return nil
}

// markUses records that the newest broadcast refers to origin's chunks in
// runs (each run's Value: that broadcast).
func (b *Batch) markUses(origin uint64, runs []codec.Run) error {
	old, err := readRuns(b.batch, usesKey(origin))
	if err != nil {
		return err
	}
	return b.set(usesKey(origin), codec.EncodeRuns(overlayRuns(old, runs)))
}

// releaseAudiences ends the batch's hold on shared chunks; committed says
// whether the accounts' newest audiences it wrote are now stored.
func (b *Batch) releaseAudiences(committed bool) {
	if !b.audienceLocked {
		return
	}
	if committed {
		for account, a := range b.audiences {
			if len(a.highs) == 0 {
				b.store.lastAudiences.Delete(account)
			} else {
				b.store.lastAudiences.Put(account, a, a.size)
			}
		}
	}
	b.audiences = nil
	b.audienceLocked = false
	b.store.audienceMu.RUnlock()
}

// readRuns reads a sealed list of runs; none when the key is absent.
func readRuns(r pebble.Reader, key []byte) ([]codec.Run, error) {
	var runs []codec.Run
	_, err := get(r, key, func(v []byte) (err error) {
		runs, err = codec.DecodeRuns(v)
		return corrupt(key, err)
	})
	return runs, err
}

// readManifest returns broadcast id's manifest; found is false for a
// broadcast stored before manifests, whose chunks are all its own.
func readManifest(r pebble.Reader, id uint64) (runs []codec.Run, found bool, err error) {
	key := manifestKey(id)
	found, err = get(r, key, func(v []byte) (err error) {
		runs, err = codec.DecodeRuns(v)
		return corrupt(key, err)
	})
	return runs, found, err
}

// readAudience returns broadcast id's whole frozen audience.
func readAudience(r pebble.Reader, id uint64) (*roaring.Bitmap, error) {
	runs, found, err := readManifest(r, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return audienceSet(id).read(r)
	}
	out := roaring.New()
	for _, run := range runs {
		n := 0
		err := audienceSet(run.Value).eachChunkBetween(r, run.First, run.Last, func(chunk *roaring.Bitmap) bool {
			out.Or(chunk)
			n++
			return true
		})
		if err != nil {
			return nil, err
		}
		if want := int(run.Last-run.First) + 1; n != want {
			return nil, fmt.Errorf("%w: %s: chunks %d–%d stored by message %d: %d of %d found",
				ErrCorrupt, keyString(manifestKey(id)), run.First, run.Last, run.Value, n, want)
		}
	}
	return out, nil
}

// originOf returns which message stores chunk high of broadcast id's
// audience, or in false when the audience has no member there.
func originOf(runs []codec.Run, legacy bool, id uint64, high uint16) (origin uint64, in bool) {
	if legacy {
		return id, true
	}
	i, found := slices.BinarySearchFunc(runs, high, func(r codec.Run, h uint16) int {
		switch {
		case r.Last < h:
			return -1
		case r.First > h:
			return 1
		}
		return 0
	})
	if !found {
		return 0, false
	}
	return runs[i].Value, true
}

// retainChunks, inside Retain's batch after it deleted the audiences of
// [first, keep), writes again the chunks that kept broadcasts still refer
// to and deletes those left by earlier sweeps whose last referrer goes now.
func (s *Store) retainChunks(b *pebble.Batch, first, keep uint64) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: usesKey(0), UpperBound: usesKey(keep)})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		key := slices.Clone(it.Key())
		if len(key) != 9 {
			return fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		origin := binary.BigEndian.Uint64(key[1:])
		value, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		runs, err := codec.DecodeRuns(value)
		if err != nil {
			return corrupt(key, err)
		}
		var kept []codec.Run
		for _, run := range runs {
			lower, upper := chunkRange(origin, run.First, run.Last)
			switch {
			case run.Value >= keep:
				kept = append(kept, run)
				if origin >= first {
					if err := s.copyChunks(b, lower, upper); err != nil {
						return err
					}
				}
			case origin < first:
				if err := b.DeleteRange(lower, upper, nil); err != nil {
					return err
				}
			}
		}
		if len(kept) == 0 {
			err = b.Delete(key, nil)
		} else {
			err = b.Set(key, codec.EncodeRuns(kept), nil)
		}
		if err != nil {
			return err
		}
	}
	return it.Error()
}

// copyChunks sets in b, again, the committed chunk values in [lower, upper).
func (s *Store) copyChunks(b *pebble.Batch, lower, upper []byte) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		value, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := b.Set(it.Key(), value, nil); err != nil {
			return err
		}
	}
	return it.Error()
}
