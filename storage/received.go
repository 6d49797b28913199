package storage

import (
	"encoding/binary"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// Per-follower monthly counts (the service tier's cap) are kept as levels:
// level k is the set of followers who received at least k of the account's
// broadcasts in the month, so "at the cap" is one set and counting a
// broadcast ORs each level with the level below it, chunk by chunk.

func receivedLevel(account, month uint32, level uint8) chunkedSet {
	return chunkedSet{prefix: receivedLevelPrefix(account, month, level)}
}

// CountReceived records that every user in audience received one more of
// account's broadcasts in month, keeping levels 1 to top (a user at top
// stays there). Only chunks that change are rewritten, and earlier months'
// levels are removed with one range delete.
func (b *Batch) CountReceived(account, month uint32, top uint8, audience *roaring.Bitmap) error {
	if err := b.dropEarlierMonths(account, month); err != nil {
		return err
	}
	// A level is read from the set cache where it holds it and this batch
	// has not changed it (then it is what the batch would read: the cache
	// is exact for what is committed), sparing a Pebble read and a decode
	// per chunk; from the batch otherwise.
	cached := make([]*roaring.Bitmap, top+1)
	looked := make([]bool, top+1)
	return countLevels(top, audience, func(k uint8, high uint16) (*roaring.Bitmap, error) {
		level := receivedLevel(account, month, k)
		if !looked[k] {
			looked[k] = true
			if !b.changesSet(level.prefix) {
				cached[k] = b.store.sets.cached(level.prefix)
			}
		}
		if set := cached[k]; set != nil {
			return chunkOf(set, high), nil
		}
		return level.readChunk(b.batch, high)
	}, func(k uint8, high uint16, chunk *roaring.Bitmap) error {
		level := receivedLevel(account, month, k)
		b.setChanges = append(b.setChanges, setChange{prefix: string(level.prefix), high: high, chunk: chunk})
		return level.writeChunk(b.batch, high, chunk)
	})
}

// dropEarlierMonths range-deletes account's levels of the months before
// month.
func (b *Batch) dropEarlierMonths(account, month uint32) error {
	dropped, err := b.dropBefore(receivedPrefix(account), binary.BigEndian.AppendUint32(receivedPrefix(account), month))
	if err == nil && dropped {
		// Earlier months' levels leave the set cache with the commit.
		b.droppedUnder = append(b.droppedUnder, string(receivedPrefix(account)))
	}
	return err
}

// countLevels is the count's arithmetic, wherever the levels are read
// from: for each chunk of audience and each level k from 1 up, old(k,
// high) is level k's chunk as it stands (only read), and changed(k, high,
// chunk) is called with each chunk the count changes, a new bitmap.
func countLevels(top uint8, audience *roaring.Bitmap, old func(k uint8, high uint16) (*roaring.Bitmap, error), changed func(k uint8, high uint16, chunk *roaring.Bitmap) error) error {
	return forEachChunk(audience, func(high uint16, got *roaring.Bitmap) error {
		// gain is who reaches level k with this broadcast: every recipient
		// for level 1, then those of the last gain already at level k-1.
		// Levels nest (level k ⊆ level k-1), so that is the recipients at
		// level k-1, found among fewer each time; once nobody rises, the
		// levels above do not change.
		gain := got
		for k := uint8(1); k <= top; k++ {
			chunk, err := old(k, high)
			if err != nil {
				return err
			}
			// Those already at level k rise to k+1; the rest of gain are
			// new at k, and only then does the level's chunk change.
			rise := roaring.And(chunk, gain)
			if rise.GetCardinality() != gain.GetCardinality() {
				// Into a new container, not in place: two arrays that
				// add up to more than an array holds are set as bits
				// then, where an in-place union merges them first.
				if err := changed(k, high, roaring.Or(chunk, gain)); err != nil {
					return err
				}
			}
			if gain = rise; gain.IsEmpty() {
				return nil
			}
		}
		return nil
	})
}

// PreparedCount is CountReceived's work done before the writer, by a
// publish's preparer, from the levels in the store's set cache: the
// changed chunks, already sealed, and the level sets they were computed
// from. Batch.ApplyCount writes them when each of those levels is still
// the very set the batch would read, which is so unless a commit or the
// batch itself counted one of the account's broadcasts since (the cache
// replaces a set it changes, never modifies it).
type PreparedCount struct {
	account, month uint32
	top            uint8
	audience       *roaring.Bitmap
	read           []*roaring.Bitmap // levels 1..len(read) as they were read
	writes         []preparedChunk
}

// preparedChunk is one level chunk a prepared count changes.
type preparedChunk struct {
	level uint8
	high  uint16
	chunk *roaring.Bitmap
	value []byte // chunk, sealed
}

// PrepareCount does CountReceived's reads, arithmetic and encoding for
// Batch.ApplyCount, from the set cache. It returns nil when the store
// keeps no set cache (the writer could never take it). The caller must
// not modify audience.
func (s *Store) PrepareCount(account, month uint32, top uint8, audience *roaring.Bitmap) (*PreparedCount, error) {
	if s.sets == nil || s.sets.budget <= 0 {
		return nil, nil
	}
	p := &PreparedCount{account: account, month: month, top: top, audience: audience}
	err := countLevels(top, audience, func(k uint8, high uint16) (*roaring.Bitmap, error) {
		for len(p.read) < int(k) {
			set, err := s.sharedSet(receivedLevel(account, month, uint8(len(p.read)+1)))
			if err != nil {
				return nil, err
			}
			p.read = append(p.read, set)
		}
		return chunkOf(p.read[k-1], high), nil
	}, func(k uint8, high uint16, chunk *roaring.Bitmap) error {
		value := make([]byte, codec.ChunkSize(chunk))
		if err := codec.SealChunk(value, chunk); err != nil {
			return err
		}
		p.writes = append(p.writes, preparedChunk{level: k, high: high, chunk: chunk, value: value})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// BatchBytes is about what ApplyCount adds to a batch (NewBatchSized).
func (p *PreparedCount) BatchBytes() int {
	if p == nil {
		return 0
	}
	n := 0
	for _, w := range p.writes {
		n += len(w.value) + recordBytes
	}
	return n
}

// ApplyCount is CountReceived(account, month, top, audience) done with
// what p prepared, when p was prepared for exactly that (audience the very
// set) and every level it read is still what the batch would read; done
// says whether it was, and when it was not, nothing was written and the
// caller counts with CountReceived.
func (b *Batch) ApplyCount(p *PreparedCount, account, month uint32, top uint8, audience *roaring.Bitmap) (done bool, _ error) {
	if p == nil || p.account != account || p.month != month || p.top != top || p.audience != audience {
		return false, nil
	}
	for i, set := range p.read {
		level := receivedLevel(account, month, uint8(i+1))
		if !b.store.sets.holds(level.prefix, set) || b.changesSet(level.prefix) {
			return false, nil
		}
	}
	if err := b.dropEarlierMonths(account, month); err != nil {
		return false, err
	}
	for _, w := range p.writes {
		level := receivedLevel(account, month, w.level)
		if err := b.batch.Set(level.key(w.high), w.value, nil); err != nil {
			return false, err
		}
		b.setChanges = append(b.setChanges, setChange{prefix: string(level.prefix), high: w.high, chunk: w.chunk})
	}
	return true, nil
}

// changesSet reports whether the batch changed a chunk of the set under
// prefix.
func (b *Batch) changesSet(prefix []byte) bool {
	for _, ch := range b.setChanges {
		if ch.prefix == string(prefix) {
			return true
		}
	}
	return false
}

// chunkOf returns a copy of set's chunk high.
func chunkOf(set *roaring.Bitmap, high uint16) *roaring.Bitmap {
	span := roaring.New()
	span.AddRange(uint64(high)<<16, (uint64(high)+1)<<16)
	return roaring.And(set, span)
}

// ReceivedAtLeast is reads.ReceivedAtLeast for the writer, from memory:
// the committed level through the store's set cache (kept exact by the
// commits that change it), with the chunks this batch changed laid over
// it, so a publish sees the broadcasts counted before it in its group.
// The caller must not modify the set.
func (b *Batch) ReceivedAtLeast(account, month uint32, n uint8) (*roaring.Bitmap, error) {
	level := receivedLevel(account, month, n)
	set, err := b.store.sharedSet(level)
	if err != nil {
		return nil, err
	}
	owned := false
	for _, ch := range b.setChanges {
		if ch.prefix != string(level.prefix) {
			continue
		}
		if !owned {
			set, owned = set.Clone(), true
		}
		ch.replaceIn(set)
	}
	return set, nil
}

// SharedReceivedAtLeast is ReceivedAtLeast from the store's set cache, for
// a publish's preparer: the very set Batch.ReceivedAtLeast returns as long
// as no commit and no write of the writer's batch has changed it since
// (the cache replaces a set it changes, never modifies it), so the writer
// can tell by identity whether work done on it still holds. The caller must
// not modify it.
func (s *Store) SharedReceivedAtLeast(account, month uint32, n uint8) (*roaring.Bitmap, error) {
	return s.sharedSet(receivedLevel(account, month, n))
}

// dropBefore range-deletes [lower, upper) when it holds any key, so that
// counters of past days and months do not pile up; dropped says whether
// it did.
func (b *Batch) dropBefore(lower, upper []byte) (dropped bool, _ error) {
	it, err := b.batch.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return false, err
	}
	found := it.First()
	if err := it.Close(); err != nil || !found {
		return false, err
	}
	return true, b.batch.DeleteRange(lower, upper, nil)
}
