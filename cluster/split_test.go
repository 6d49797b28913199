package cluster

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/fanout"
)

// TestSplitKeepsEveryPartUnderTheLimit: a large audience is cut into
// disjoint parts whose union is the audience and whose messages each fit
// the bus's payload limit.
func TestSplitKeepsEveryPartUnderTheLimit(t *testing.T) {
	audience := roaring.New()
	for u := uint32(1); u < 3_000_000; u += 3 {
		audience.Add(u)
	}
	frame := make([]byte, 2000)
	r := fanout.Relayed{ID: 5, Plain: frame, Audience: audience}
	const limit = 64 << 10
	parts, err := split(r, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("%d parts for an audience of %d bytes", len(parts), audience.GetSerializedSizeInBytes())
	}
	union := roaring.New()
	total := uint64(0)
	for i, p := range parts {
		msg := encodeRelay(relayMsg{Part: uint16(i), Parts: uint16(len(parts)), Relayed: p})
		if len(msg) > limit {
			t.Fatalf("part %d is %d bytes", i, len(msg))
		}
		union.Or(p.Audience)
		total += p.Audience.GetCardinality()
	}
	if !union.Equals(audience) || total != audience.GetCardinality() {
		t.Fatalf("parts cover %d of %d users, %d in all", union.GetCardinality(), audience.GetCardinality(), total)
	}
	small := fanout.Relayed{ID: 6, Plain: frame, Audience: roaring.BitmapOf(1, 2, 3)}
	if parts, err := split(small, limit); err != nil || len(parts) != 1 {
		t.Fatalf("a small audience: %d parts, %v", len(parts), err)
	}
	if _, err := split(fanout.Relayed{ID: 7, Plain: make([]byte, limit), Audience: audience}, limit); err == nil {
		t.Fatal("frames larger than a message split")
	}
}
