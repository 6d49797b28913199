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
	size := int64(r.Audience.GetSerializedSizeInBytes())
	if size <= budget {
		return []fanout.Relayed{r}, nil
	}
	if budget < 4096 {
		return nil, fmt.Errorf("broadcast %d: frames of %d bytes leave no room for its audience in a bus message of %d bytes", r.ID, len(r.Plain)+len(r.Compressed), maxMsg)
	}
	card := r.Audience.GetCardinality()
	for k := uint64(size/budget + 1); k <= math.MaxUint16 && k <= card; k *= 2 {
		parts, ok := cut(r, k, card, budget)
		if ok {
			return parts, nil
		}
	}
	return nil, fmt.Errorf("broadcast %d: its audience of %d bytes does not split into bus messages of %d bytes", r.ID, size, maxMsg)
}

// cut splits r's audience into k parts of about equal cardinality; ok is
// false if one of them is over budget.
func cut(r fanout.Relayed, k, card uint64, budget int64) ([]fanout.Relayed, bool) {
	parts := make([]fanout.Relayed, 0, k)
	lo := uint64(0)
	for j := uint64(1); j <= k; j++ {
		hi := uint64(math.MaxUint32) + 1
		if j < k {
			v, err := r.Audience.Select(uint32(card * j / k))
			if err != nil {
				return nil, false
			}
			hi = uint64(v)
		}
		window := roaring.New()
		window.AddRange(lo, hi)
		p := r
		p.Audience = roaring.And(r.Audience, window)
		if int64(p.Audience.GetSerializedSizeInBytes()) > budget {
			return nil, false
		}
		parts = append(parts, p)
		lo = hi
	}
	return parts, true
}
