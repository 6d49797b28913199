package storage

import (
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// Broadcast is one entry of the broadcast log; see codec.Broadcast.
type Broadcast = codec.Broadcast

func audienceSet(message uint64) chunkedSet { return chunkedSet{prefix: audiencePrefix(message)} }

// AddBroadcast assigns m the next message id and stores it with its frozen
// audience, any set of users: catch-up finds it by probing every broadcast
// added so (the walked list, catchup_index.go). The writer adds its
// broadcasts with AddEncodedBroadcast. The id becomes visible to readers
// when the batch commits.
func (b *Batch) AddBroadcast(m Broadcast, audience *roaring.Bitmap) (uint64, error) {
	encoded, err := EncodeSet(audience)
	if err != nil {
		return 0, err
	}
	return b.addBroadcast(m, encoded, Addressing{Resolved: b.lastMessage}, true)
}

// AddEncodedBroadcast stores a broadcast whose audience (encoded
// beforehand, EncodeSet, so that the batch's owner only copies bytes) was
// chosen as addr says, and lists it in the catch-up indexes.
func (b *Batch) AddEncodedBroadcast(m Broadcast, audience EncodedSet, addr Addressing) (uint64, error) {
	return b.addBroadcast(m, audience, addr, false)
}

func (b *Batch) addBroadcast(m Broadcast, audience EncodedSet, addr Addressing, walked bool) (uint64, error) {
	b.lastMessage++
	m.ID = b.lastMessage
	if err := b.set(broadcastKey(m.ID), codec.EncodeBroadcast(m)); err != nil {
		return 0, err
	}
	if err := b.writeAudience(m.ID, m.Account, audience); err != nil {
		return 0, err
	}
	return m.ID, b.index(m, addr, walked)
}

func readBroadcast(r pebble.Reader, id uint64) (Broadcast, error) {
	key := broadcastKey(id)
	var m Broadcast
	found, err := get(r, key, func(v []byte) (err error) {
		m, err = codec.DecodeBroadcast(v, id)
		return corrupt(key, err)
	})
	if err == nil && !found {
		err = fmt.Errorf("%w: broadcast %d", ErrNotFound, id)
	}
	return m, err
}

// InAudience is the one-point-read test "was user in broadcast id's audience".
func (s *Store) InAudience(id uint64, user uint32) (bool, error) {
	return s.inAudience(id, user)
}

// Retract marks a broadcast retracted and drops its payload.
func (b *Batch) Retract(m Broadcast) error {
	m.Retracted, m.Payload = true, nil
	return b.set(broadcastKey(m.ID), codec.EncodeBroadcast(m))
}
