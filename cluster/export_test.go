package cluster

import (
	"github.com/RoaringBitmap/roaring/v2"

	"herald/fanout"
)

// ForgedRelayForTest is a well-formed relay of a broadcast no core
// committed, as a rogue client would send it.
func ForgedRelayForTest(id uint64, users []uint32) []byte {
	return encodeRelay(relayMsg{Instance: 1, Parts: 1, Relayed: fanout.Relayed{ID: id, Plain: []byte("forged"), Audience: roaring.BitmapOf(users...)}})
}
