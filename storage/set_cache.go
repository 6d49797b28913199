package storage

import (
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// setCache keeps the decoded follower, tag-member and blocklist sets that
// publishes read, and the writer's at-cap levels (received.go), so an
// audience is resolved from bitmaps in memory instead of a Pebble scan
// and a decode of every chunk. It is kept exact by the writer
// (write-through): a committed batch hands it the chunks it changed,
// before the batch's ops are answered (Batch.Commit), and a deleted tag
// (or a month's levels) drops its sets. The writer only queues the changed
// chunks on the set; the next reader folds them into a new copy (off the
// writer for the sets preparers read: a copy of a 10,000,000-follower set
// takes milliseconds; the writer folds its at-cap levels itself, no
// dearer than the Pebble read it replaces), so a publish
// after a follow reads only what changed, and nothing from Pebble. A set
// missing is loaded from committed state and kept only if no set changed
// while it was read (gen), so a load racing a commit never keeps a set
// older than what is committed. Sets leave least recently used first once
// the cache holds more than its budget. A cached set is never modified:
// readers share it (reads.wholeSet copies for those that modify).
type setCache struct {
	mu      sync.Mutex
	budget  int64
	bytes   int64
	gen     uint64 // counts commits that changed a set
	tick    uint64
	entries map[string]*cachedSet
}

// cachedSet is one set as last folded, with the chunks committed since;
// set is never modified, pending only appended to (under setCache.mu).
type cachedSet struct {
	set     *roaring.Bitmap
	pending []setChange
	waiting int64 // bytes of pending's chunks
	size    int64
	used    uint64 // tick of its last read
}

// setChange is one chunk of a set as a batch left it.
type setChange struct {
	prefix string
	high   uint16
	chunk  *roaring.Bitmap
}

// replaceIn puts the chunk into set in place of what set held there.
func (ch setChange) replaceIn(set *roaring.Bitmap) {
	set.RemoveRange(uint64(ch.high)<<16, (uint64(ch.high)+1)<<16) // +1 past uint16 for the last chunk
	set.Or(ch.chunk)
}

// setOverhead approximates an entry's bookkeeping beyond its bitmap.
const setOverhead = 256

func newSetCache(budget int64) *setCache {
	return &setCache{budget: budget, entries: map[string]*cachedSet{}}
}

// shared returns the set under prefix, from the cache (folding what was
// committed since it was last read) or loaded (and kept, if it fits and
// nothing changed meanwhile). The caller must not modify it. A nil cache
// or one without budget always loads.
func (c *setCache) shared(prefix []byte, load func() (*roaring.Bitmap, error)) (*roaring.Bitmap, error) {
	if c == nil || c.budget <= 0 {
		return load()
	}
	key := string(prefix)
	set, gen := c.lookup(key)
	if set != nil {
		return set, nil
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
		c.entries[key] = &cachedSet{set: set, size: size, used: c.tick}
		c.bytes += size
		c.evict()
	}
	return set, nil
}

// cached is shared without the load: the set under prefix if the cache
// holds it, else nil.
func (c *setCache) cached(prefix []byte) *roaring.Bitmap {
	if c == nil || c.budget <= 0 {
		return nil
	}
	set, _ := c.lookup(string(prefix))
	return set
}

// lookup returns the set under key, folding what was committed since it
// was last read, or nil and the commits counted so far (gen) when the
// cache does not hold it.
func (c *setCache) lookup(key string) (*roaring.Bitmap, uint64) {
	c.mu.Lock()
	e, gen := c.entries[key], c.gen
	if e == nil {
		c.mu.Unlock()
		return nil, gen
	}
	c.tick++
	e.used = c.tick
	base, pending := e.set, e.pending
	c.mu.Unlock()
	if len(pending) == 0 {
		return base, gen
	}
	return c.fold(key, e, base, pending), gen
}

// holds reports whether set is, as it stands, what the cache has under
// prefix: nothing committed to it since it was read.
func (c *setCache) holds(prefix []byte, set *roaring.Bitmap) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[string(prefix)]
	return e != nil && e.set == set && len(e.pending) == 0
}

// fold returns base with pending applied, and makes it e's set if e has
// not moved on meanwhile (another reader folded it, or it left).
func (c *setCache) fold(key string, e *cachedSet, base *roaring.Bitmap, pending []setChange) *roaring.Bitmap {
	next := base.Clone()
	for _, ch := range pending {
		ch.replaceIn(next)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != e || e.set != base || len(e.pending) < len(pending) {
		return next
	}
	var folded int64
	for _, ch := range pending {
		folded += int64(ch.chunk.GetSizeInBytes())
	}
	size := int64(next.GetSizeInBytes()) + setOverhead
	c.bytes += size - e.size - folded
	e.set, e.size, e.waiting = next, size, e.waiting-folded
	e.pending = append([]setChange(nil), e.pending[len(pending):]...)
	return next
}

// maxWaiting bounds the changed chunks a set holds for its next reader;
// past it the set leaves the cache and is loaded again when read.
const maxWaiting = 4 << 20

// apply writes a committed batch's set changes through: changed chunks
// wait on their cached sets for the next read, dropped sets leave, and so
// do all the sets whose keys start with one of droppedUnder.
func (c *setCache) apply(changes []setChange, dropped, droppedUnder []string) {
	if c == nil || len(changes)+len(dropped)+len(droppedUnder) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, key := range dropped {
		c.drop(key)
	}
	for _, prefix := range droppedUnder {
		for key := range c.entries {
			if strings.HasPrefix(key, prefix) {
				c.drop(key)
			}
		}
	}
	for _, ch := range changes {
		e := c.entries[ch.prefix]
		if e == nil {
			continue
		}
		n := int64(ch.chunk.GetSizeInBytes())
		if e.waiting+n > maxWaiting {
			c.drop(ch.prefix)
			continue
		}
		e.pending = append(e.pending, ch)
		e.waiting += n
		c.bytes += n
	}
	c.evict()
}

// drop removes a set. c.mu is held.
func (c *setCache) drop(key string) {
	if e := c.entries[key]; e != nil {
		c.bytes -= e.size + e.waiting
		delete(c.entries, key)
	}
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
		c.drop(oldest)
	}
}

// cachedBytes reports what the cache holds, for tests.
func (c *setCache) cachedBytes() (int64, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, len(c.entries)
}
