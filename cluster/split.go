package cluster

import (
	"fmt"
	"math"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/fanout"
)

// relayOverhead is a relay message's size besides its frames and audience.
const relayOverhead = 128

// split cuts a relay whose audience would not fit in one bus message of at
// most maxMsg bytes into parts by user id ranges; each part carries the
// frames and its share of the audience. A retraction or a small audience
// is one part.
func split(r fanout.Relayed, maxMsg int64) ([]fanout.Relayed, error) {
	budget := maxMsg - int64(len(r.Plain)+len(r.Compressed)+relayOverhead)
	if int64(r.Audience.GetSerializedSizeInBytes()) <= budget {
		return []fanout.Relayed{r}, nil
	}
	if budget < 4096 {
		return nil, fmt.Errorf("broadcast %d: frames of %d bytes leave no room for its audience in a bus message of %d bytes", r.ID, len(r.Plain)+len(r.Compressed), maxMsg)
	}
	shares, err := splitBitmap(r.Audience, budget)
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: %w", r.ID, err)
	}
	parts := make([]fanout.Relayed, len(shares))
	for i, share := range shares {
		parts[i] = r
		parts[i].Audience = share
	}
	return parts, nil
}

// splitBitmap cuts bm into bitmaps of disjoint user id ranges, in order,
// each of at most budget serialised bytes (bm itself if it fits).
func splitBitmap(bm *roaring.Bitmap, budget int64) ([]*roaring.Bitmap, error) {
	size := int64(bm.GetSerializedSizeInBytes())
	if size <= budget {
		return []*roaring.Bitmap{bm}, nil
	}
	card := bm.GetCardinality()
	for k := uint64(size/max(budget, 1) + 1); k <= math.MaxUint16 && k <= card; k *= 2 {
		if parts, ok := cut(bm, k, card, budget); ok {
			return parts, nil
		}
	}
	return nil, fmt.Errorf("a bitmap of %d bytes does not split into parts of %d bytes", size, budget)
}

// cut splits bm into k parts of about equal cardinality; ok is false if
// one of them is over budget.
func cut(bm *roaring.Bitmap, k, card uint64, budget int64) ([]*roaring.Bitmap, bool) {
	parts := make([]*roaring.Bitmap, 0, k)
	lo := uint64(0)
	for j := uint64(1); j <= k; j++ {
		hi := uint64(math.MaxUint32) + 1
		if j < k {
			v, err := bm.Select(uint32(card * j / k))
			if err != nil {
				return nil, false
			}
			hi = uint64(v)
		}
		window := roaring.New()
		window.AddRange(lo, hi)
		p := roaring.And(bm, window)
		if int64(p.GetSerializedSizeInBytes()) > budget {
			return nil, false
		}
		parts = append(parts, p)
		lo = hi
	}
	return parts, true
}
