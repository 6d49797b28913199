package storage

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// audienceCache keeps decoded chunks of frozen audiences for the
// membership test of catch-up. A committed broadcast's audience never
// changes, and a reconnect storm asks about the same few chunks of the
// same recent broadcasts for every client, each of which would otherwise
// be a Pebble read, a checksum and a decode. Entries leave in insertion
// order once the cache holds more than its byte budget.
type audienceCache struct {
	mu      sync.Mutex
	entries map[audienceChunk]*roaring.Bitmap
	order   []audienceChunk // insertion order; order[head:] are live
	head    int
	bytes   int64
	budget  int64
}

type audienceChunk struct {
	message uint64
	high    uint16
}

// audienceEntryOverhead approximates an entry's bookkeeping beyond the
// bitmap's own bytes.
const audienceEntryOverhead = 128

func newAudienceCache(budget int64) *audienceCache {
	return &audienceCache{entries: map[audienceChunk]*roaring.Bitmap{}, budget: budget}
}

func (c *audienceCache) get(k audienceChunk) (*roaring.Bitmap, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bm, ok := c.entries[k]
	return bm, ok
}

// put adds a chunk the caller will not modify, evicting the oldest
// entries over budget.
func (c *audienceCache) put(k audienceChunk, bm *roaring.Bitmap) {
	size := int64(bm.GetSizeInBytes()) + audienceEntryOverhead
	if size > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	c.entries[k] = bm
	c.order = append(c.order, k)
	c.bytes += size
	for c.bytes > c.budget && c.head < len(c.order) {
		old := c.order[c.head]
		c.head++
		if e, ok := c.entries[old]; ok {
			c.bytes -= int64(e.GetSizeInBytes()) + audienceEntryOverhead
			delete(c.entries, old)
		}
	}
	if c.head > len(c.order)/2 {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

// inAudience is InAudience through the cache: only committed broadcasts
// above the retention floor are cached, as only theirs are final.
func (s *Store) inAudience(id uint64, user uint32) (bool, error) {
	k := audienceChunk{message: id, high: uint16(user >> 16)}
	if id > s.lastMessage.Load() || id <= s.floor.Load() {
		return audienceSet(id).contains(s.db, user)
	}
	if chunk, ok := s.audiences.get(k); ok {
		return chunk.Contains(user), nil
	}
	chunk, err := audienceSet(id).readChunk(s.db, k.high)
	if err != nil {
		return false, err
	}
	s.audiences.put(k, chunk)
	return chunk.Contains(user), nil
}
