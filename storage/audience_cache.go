package storage

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage/internal/codec"
)

// audienceCache keeps decoded chunks of frozen audiences, and the
// manifests saying which message stores each, for the membership test of
// catch-up. A committed broadcast's audience never changes, and a
// reconnect storm asks about the same few chunks of the same recent
// broadcasts for every client, each of which would otherwise be a Pebble
// read, a checksum and a decode. Chunks are cached by the message storing
// them, so broadcasts sharing a chunk share its entry. Entries leave in
// insertion order once the cache holds more than its byte budget;
// manifests, once there are more than maxManifests.
type audienceCache struct {
	mu      sync.Mutex
	entries map[audienceChunk]*roaring.Bitmap
	order   []audienceChunk // insertion order; order[head:] are live
	head    int
	bytes   int64
	budget  int64

	manifests     map[uint64]manifest
	manifestOrder []uint64
}

type audienceChunk struct {
	message uint64 // the message storing the chunk
	high    uint16
}

// manifest is a broadcast's decoded manifest (shared_audience.go); legacy:
// the broadcast has none, every chunk is its own.
type manifest struct {
	runs   []codec.Run
	legacy bool
}

// maxManifests bounds the cached manifests (most hold one run of 12 bytes).
const maxManifests = 1 << 16

// audienceEntryOverhead approximates an entry's bookkeeping beyond the
// bitmap's own bytes.
const audienceEntryOverhead = 128

func newAudienceCache(budget int64) *audienceCache {
	return &audienceCache{entries: map[audienceChunk]*roaring.Bitmap{}, budget: budget, manifests: map[uint64]manifest{}}
}

func (c *audienceCache) manifest(id uint64) (manifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.manifests[id]
	return m, ok
}

func (c *audienceCache) putManifest(id uint64, m manifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.manifests[id]; ok {
		return
	}
	if len(c.manifestOrder) >= maxManifests {
		delete(c.manifests, c.manifestOrder[0])
		c.manifestOrder = c.manifestOrder[1:]
	}
	c.manifests[id] = m
	c.manifestOrder = append(c.manifestOrder, id)
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
// are cached, as only theirs are final (and the chunks they refer to stay
// until they go); one at or below the retention floor has no audience.
func (s *Store) inAudience(id uint64, user uint32) (bool, error) {
	high := uint16(user >> 16)
	if id <= s.floor.Load() {
		return false, nil // removed; chunks later broadcasts share may outlive it
	}
	final := id <= s.lastMessage.Load()
	m, ok := manifest{}, false
	if final {
		m, ok = s.audiences.manifest(id)
	}
	if !ok {
		runs, found, err := readManifest(s.db, id)
		if err != nil {
			return false, err
		}
		m = manifest{runs: runs, legacy: !found}
		if final {
			s.audiences.putManifest(id, m)
		}
	}
	origin, in := originOf(m.runs, m.legacy, id, high)
	if !in {
		return false, nil
	}
	k := audienceChunk{message: origin, high: high}
	if !final {
		return audienceSet(origin).contains(s.db, user)
	}
	if chunk, ok := s.audiences.get(k); ok {
		return chunk.Contains(user), nil
	}
	chunk, err := audienceSet(origin).readChunk(s.db, high)
	if err != nil {
		return false, err
	}
	s.audiences.put(k, chunk)
	return chunk.Contains(user), nil
}
