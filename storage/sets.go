package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// chunkedSet is one stored set of user ids: chunk keys are prefix | high16,
// each holding the members with those high 16 bits (see doc.go).
type chunkedSet struct{ prefix []byte }

func (c chunkedSet) key(high uint16) []byte {
	return binary.BigEndian.AppendUint16(append([]byte(nil), c.prefix...), high)
}

// read returns the whole set.
func (c chunkedSet) read(r pebble.Reader) (*roaring.Bitmap, error) {
	out := roaring.New()
	err := c.eachChunk(r, 0, func(chunk *roaring.Bitmap) bool {
		// Chunks arrive in key order and hold disjoint containers, so this
		// appends containers rather than merging members.
		out.Or(chunk)
		return true
	})
	return out, err
}

// page returns up to limit members from from on, in order, reading only
// the chunks it needs.
func (c chunkedSet) page(r pebble.Reader, from uint32, limit int) ([]uint32, error) {
	var out []uint32
	err := c.eachChunk(r, uint16(from>>16), func(chunk *roaring.Bitmap) bool {
		members := chunk.Iterator()
		members.AdvanceIfNeeded(from)
		for members.HasNext() && len(out) < limit {
			out = append(out, members.Next())
		}
		return len(out) < limit
	})
	return out, err
}

// eachChunk decodes the set's chunks in order from high on and calls fn
// with each until it returns false.
func (c chunkedSet) eachChunk(r pebble.Reader, high uint16, fn func(chunk *roaring.Bitmap) bool) error {
	return c.eachChunkBetween(r, high, 0xffff, fn)
}

// eachChunkBetween is eachChunk over the chunks first..last only.
func (c chunkedSet) eachChunkBetween(r pebble.Reader, first, last uint16, fn func(chunk *roaring.Bitmap) bool) error {
	lower := c.key(first)
	if first == 0 {
		lower = c.prefix // a key cut short would sort here; it is an error, not skipped
	}
	upper := prefixEnd(c.prefix)
	if last != 0xffff {
		upper = c.key(last + 1)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if len(key) != len(c.prefix)+2 {
			return fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		value, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		chunk, err := codec.DecodeChunk(value, binary.BigEndian.Uint16(key[len(c.prefix):]))
		if err != nil {
			return corrupt(key, err)
		}
		if !fn(chunk) {
			break
		}
	}
	return it.Error()
}

// readChunk returns the chunk holding user's high bits, or an empty bitmap.
func (c chunkedSet) readChunk(r pebble.Reader, high uint16) (*roaring.Bitmap, error) {
	key := c.key(high)
	chunk := roaring.New()
	_, err := get(r, key, func(v []byte) (err error) {
		chunk, err = codec.DecodeChunk(v, high)
		return corrupt(key, err)
	})
	return chunk, err
}

// contains is the one-point-read membership test.
func (c chunkedSet) contains(r pebble.Reader, user uint32) (bool, error) {
	chunk, err := c.readChunk(r, uint16(user>>16))
	if err != nil {
		return false, err
	}
	return chunk.Contains(user), nil
}

// writeChunk stores chunk under high, deleting the key when it is empty.
func (c chunkedSet) writeChunk(b *pebble.Batch, high uint16, chunk *roaring.Bitmap) error {
	if chunk.IsEmpty() {
		return b.Delete(c.key(high), nil)
	}
	// Encoded straight into the batch's record: a changed 8 KiB chunk is
	// copied once, not built, sealed into a second buffer and copied in.
	d := b.SetDeferred(len(c.prefix)+2, codec.ChunkSize(chunk))
	binary.BigEndian.PutUint16(d.Key[copy(d.Key, c.prefix):], high)
	if err := codec.SealChunk(d.Value, chunk); err != nil {
		return err
	}
	return d.Finish()
}

// EncodedSet is a set already split into sealed chunk values, ready to be
// written under any chunked prefix without further encoding. Building one
// is the expensive part of storing a large set; it needs no batch, so it
// can happen before the writer takes the set.
type EncodedSet struct {
	highs  []uint16
	values [][]byte
}

// Empty reports whether the set has no chunk.
func (s EncodedSet) Empty() bool { return len(s.highs) == 0 }

// Bytes returns the size of the chunk values.
func (s EncodedSet) Bytes() int64 {
	n := int64(0)
	for _, v := range s.values {
		n += int64(len(v))
	}
	return n
}

// recordBytes bounds what a batch adds to a chunk value: its key (a set's
// prefix and two bytes) and the record's kind and lengths.
const recordBytes = 64

// BatchBytes is about what writing the set whole adds to a batch
// (NewBatchSized); writing it by reference adds less.
func (s EncodedSet) BatchBytes() int { return int(s.Bytes()) + len(s.highs)*recordBytes }

// EncodeSet splits set into sealed chunk values.
func EncodeSet(set *roaring.Bitmap) (EncodedSet, error) {
	var out EncodedSet
	err := forEachChunk(set, func(high uint16, chunk *roaring.Bitmap) error {
		v, err := codec.EncodeChunk(chunk)
		if err != nil {
			return err
		}
		out.highs = append(out.highs, high)
		out.values = append(out.values, v)
		return nil
	})
	return out, err
}

// forEachChunk calls fn for each non-empty 2^16-aligned slice of set, in
// order, without visiting individual members.
func forEachChunk(set *roaring.Bitmap, fn func(high uint16, chunk *roaring.Bitmap) error) error {
	it := set.Iterator()
	for it.HasNext() {
		high := it.Next() >> 16
		span := roaring.New()
		span.AddRange(uint64(high)<<16, uint64(high+1)<<16)
		if err := fn(uint16(high), roaring.And(set, span)); err != nil {
			return err
		}
		if high == 0xffff {
			break
		}
		it.AdvanceIfNeeded((high + 1) << 16)
	}
	return nil
}

// groupByChunk splits sorted ids into runs sharing their high 16 bits.
func groupByChunk(sorted []uint32, fn func(high uint16, ids []uint32) error) error {
	for start := 0; start < len(sorted); {
		high := sorted[start] >> 16
		end := start + 1
		for end < len(sorted) && sorted[end]>>16 == high {
			end++
		}
		if err := fn(uint16(high), sorted[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// among returns the members of the set that are in users, reading only
// the chunks users fall in.
func (c chunkedSet) among(r pebble.Reader, users *roaring.Bitmap) (*roaring.Bitmap, error) {
	out := roaring.New()
	err := forEachChunk(users, func(high uint16, part *roaring.Bitmap) error {
		chunk, err := c.readChunk(r, high)
		if err != nil {
			return err
		}
		out.Or(roaring.And(chunk, part))
		return nil
	})
	return out, err
}
