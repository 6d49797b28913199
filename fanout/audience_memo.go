package fanout

import (
	"github.com/RoaringBitmap/roaring/v2"

	"herald/internal/lru"
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
	entries *lru.Cache[memoKey, *memoEntry]
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
}

// memoMinMembers: smaller audiences are resolved every time.
const memoMinMembers = 1 << 16

func newAudienceMemo(budget int64) *audienceMemo {
	return &audienceMemo{entries: lru.New[memoKey, *memoEntry](max(budget, 0))}
}

// worth reports whether audience should be remembered.
func (m *audienceMemo) worth(audience *roaring.Bitmap) bool {
	return m != nil && m.entries.Budget() > 0 && audience.GetCardinality() >= memoMinMembers
}

// get returns the entry for key if it was resolved from exactly sel's sets.
func (m *audienceMemo) get(key memoKey, sel selection) *memoEntry {
	if m == nil {
		return nil
	}
	e, ok := m.entries.Get(key)
	if !ok || !e.sel.same(sel) {
		return nil
	}
	return e
}

// put remembers e, unless it would take more than half the budget.
func (m *audienceMemo) put(key memoKey, e *memoEntry) {
	size := int64(e.audience.GetSizeInBytes()) + e.encoded.Bytes() + 256
	if size > m.entries.Budget()/2 {
		m.entries.Delete(key)
		return
	}
	m.entries.Put(key, e, size)
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
