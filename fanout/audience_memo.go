package fanout

import (
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage"
)

// audienceMemo remembers, per account and selection (all followers, or an
// expression), the audience its last publish resolved, with its encoded
// chunks and the sets it was resolved from. The store's set cache never
// modifies a set it shares, it replaces it, so a set that is still the
// same object is unchanged: an account publishing again while none of its
// sets changed gets the same audience without a set operation or an
// encoding, and the storage refers to the chunks it already holds. A
// change anywhere in the sets (a follow, a tag change, a block, a set
// leaving the cache) makes a new object, and the audience is resolved
// again. Entries leave least recently used first over the byte budget;
// audiences under memoMinMembers are not kept, resolving them is cheap.
type audienceMemo struct {
	mu      sync.Mutex
	budget  int64
	bytes   int64
	tick    uint64
	entries map[memoKey]*memoEntry
}

type memoKey struct {
	account uint32
	expr    string // the encoded expression; "" for all followers
}

type memoEntry struct {
	sel      selection
	audience *roaring.Bitmap
	encoded  storage.EncodedSet
	left     leftOut
	size     int64
	used     uint64
}

// memoMinMembers: smaller audiences are resolved every time.
const memoMinMembers = 1 << 16

func newAudienceMemo(budget int64) *audienceMemo {
	return &audienceMemo{budget: budget, entries: map[memoKey]*memoEntry{}}
}

// worth reports whether audience should be remembered.
func (m *audienceMemo) worth(audience *roaring.Bitmap) bool {
	return m != nil && m.budget > 0 && audience.GetCardinality() >= memoMinMembers
}

// get returns the entry for key if it was resolved from exactly sel's sets.
func (m *audienceMemo) get(key memoKey, sel selection) *memoEntry {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[key]
	if e == nil || !e.sel.same(sel) {
		return nil
	}
	m.tick++
	e.used = m.tick
	return e
}

func (m *audienceMemo) put(key memoKey, e *memoEntry) {
	e.size = int64(e.audience.GetSizeInBytes()) + e.encoded.Bytes() + 256
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.entries[key]; old != nil {
		m.bytes -= old.size
		delete(m.entries, key)
	}
	if e.size > m.budget/2 {
		return
	}
	m.tick++
	e.used = m.tick
	m.entries[key] = e
	m.bytes += e.size
	for m.bytes > m.budget {
		var oldest memoKey
		var at uint64
		for k, x := range m.entries {
			if at == 0 || x.used < at {
				oldest, at = k, x.used
			}
		}
		m.bytes -= m.entries[oldest].size
		delete(m.entries, oldest)
	}
}

// same reports whether two selections are the same set objects.
func (s selection) same(o selection) bool {
	if s.followers != o.followers || s.blocked != o.blocked || len(s.tags) != len(o.tags) || len(s.sets) != len(o.sets) {
		return false
	}
	for i := range s.tags {
		if s.tags[i] != o.tags[i] {
			return false
		}
	}
	for id, set := range s.sets {
		if o.sets[id] != set {
			return false
		}
	}
	return true
}
