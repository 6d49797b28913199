package storage

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// setCache keeps the decoded follower, tag-member and blocklist sets that
// publishes read, so an audience is resolved from bitmaps in memory
// instead of a Pebble scan and a decode of every chunk. The writer keeps
// it exact (write-through): a committed batch that changed chunks of a
// cached set replaces those chunks in it before the batch's ops are
// answered (Batch.Commit), and a deleted tag drops its set. A set missing
// is loaded from committed state and kept only if no set changed while it
// was read (gen), so a load racing a commit never keeps a set older than
// what is committed. Sets leave least recently used first once the cache
// holds more than its budget; a reader gets its own copy.
type setCache struct {
	mu      sync.Mutex
	budget  int64
	bytes   int64
	gen     uint64 // counts commits that changed a set
	tick    uint64
	entries map[string]*cachedSet
}

type cachedSet struct {
	mu   sync.RWMutex
	set  *roaring.Bitmap
	size int64
	used uint64 // tick of its last read
}

// setChange is one chunk of a set as a batch left it.
type setChange struct {
	prefix string
	high   uint16
	chunk  *roaring.Bitmap
}

// setOverhead approximates an entry's bookkeeping beyond its bitmap.
const setOverhead = 256

func newSetCache(budget int64) *setCache {
	return &setCache{budget: budget, entries: map[string]*cachedSet{}}
}

// read returns a copy of the set under prefix, from the cache or loaded
// (and kept, if it fits and nothing changed meanwhile). A nil cache or one
// without budget always loads.
func (c *setCache) read(prefix []byte, load func() (*roaring.Bitmap, error)) (*roaring.Bitmap, error) {
	if c == nil || c.budget <= 0 {
		return load()
	}
	key := string(prefix)
	c.mu.Lock()
	e, gen := c.entries[key], c.gen
	if e != nil {
		c.tick++
		e.used = c.tick
	}
	c.mu.Unlock()
	if e != nil {
		e.mu.RLock()
		defer e.mu.RUnlock()
		return e.set.Clone(), nil
	}
	set, err := load()
	if err != nil {
		return nil, err
	}
	size := int64(set.GetSizeInBytes()) + setOverhead
	if size > c.budget/2 {
		return set, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen && c.entries[key] == nil {
		c.tick++
		c.entries[key] = &cachedSet{set: set.Clone(), size: size, used: c.tick}
		c.bytes += size
		c.evict()
	}
	return set, nil
}

// apply writes a committed batch's set changes through: changed chunks
// replace theirs in cached sets, dropped sets leave.
func (c *setCache) apply(changes []setChange, dropped []string) {
	if c == nil || len(changes)+len(dropped) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, key := range dropped {
		if e := c.entries[key]; e != nil {
			c.bytes -= e.size
			delete(c.entries, key)
		}
	}
	for _, ch := range changes {
		e := c.entries[ch.prefix]
		if e == nil {
			continue
		}
		e.mu.Lock()
		e.set.RemoveRange(uint64(ch.high)<<16, uint64(ch.high+1)<<16)
		e.set.Or(ch.chunk)
		size := int64(e.set.GetSizeInBytes()) + setOverhead
		e.mu.Unlock()
		c.bytes += size - e.size
		e.size = size
	}
	c.evict()
}

// evict drops the least recently read sets while over budget. c.mu is
// held.
func (c *setCache) evict() {
	for c.bytes > c.budget && len(c.entries) > 0 {
		var oldest string
		var at uint64
		first := true
		for key, e := range c.entries {
			if first || e.used < at {
				oldest, at, first = key, e.used, false
			}
		}
		c.bytes -= c.entries[oldest].size
		delete(c.entries, oldest)
	}
}

// cachedBytes reports what the cache holds, for tests.
func (c *setCache) cachedBytes() (int64, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, len(c.entries)
}
