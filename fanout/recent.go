package fanout

import (
	"errors"
	"slices"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage"
)

// recent keeps the newest broadcasts as live delivery built them (their
// PUSH frames, plain and compressed, and their frozen audiences), so that
// catch-up of a recent cursor reads memory instead of the log: no record is
// decoded, no audience probed in Pebble, no frame encoded or payload
// compressed again, and a resuming client gets the very bytes live clients
// got. It holds every committed broadcast from start to last, at most
// limit bytes of them; older cursors are served from the store.
//
// An audience shared by several broadcasts (the audience memo hands an
// account publishing again to unchanged sets the same bitmap) is counted
// once against limit, while any entry holds it.
//
// The writer adds each broadcast after its commit and before it answers
// the publish, and marks a retracted one before it answers the retraction
// and counts its notice (engine.Page.Epoch relies on that order); readers
// take pages under the read lock.
type recent struct {
	mu      sync.RWMutex
	entries []recentEntry // entries[off:] are ids start..last, in order
	off     int
	bytes   int
	limit   int
	start   uint64
	last    uint64
	// held counts, per audience bitmap, the entries holding it.
	held map[*roaring.Bitmap]int
}

type recentEntry struct {
	id        uint64
	push      pushFrames
	audience  *roaring.Bitmap
	expires   uint64 // Unix ms at which its TTL ends; 0: none
	published uint64 // Unix ms
	payload   int
	size      int // frames and bookkeeping
	shared    int // the audience's bytes, counted once however many hold it
	retracted bool
}

// recentOverhead is what an entry costs besides its frames and audience.
const recentOverhead = 96

// recentMaxFrame is the largest PUSH frame the cache keeps. A broadcast
// with a larger one keeps its place (ids stay contiguous) without its
// frames, and a page that needs it is read from the log: large payloads
// would hold much memory to save little work.
const recentMaxFrame = 16 << 10

func (r *recent) init(limit int, last uint64) {
	r.limit, r.start, r.last = limit, last+1, last
}

// warm fills the cache from the log, newest first back to what limit
// holds, before the engine serves: after a restart, the clients that
// reconnect find their pages in memory. A retracted broadcast keeps its
// place without frames.
func (r *recent) warm(store *storage.Store, compressMin int) error {
	if r.limit <= 0 {
		return nil
	}
	last := store.LastMessageID()
	var back []recentEntry // newest first
	bytes := 0
	for id := last; id >= store.FirstRetained() && id > 0; id-- {
		m, err := store.Broadcast(id)
		if errors.Is(err, storage.ErrNotFound) {
			break // removed by retention meanwhile
		}
		if err != nil {
			return err
		}
		audience, err := store.Audience(id)
		if err != nil {
			return err
		}
		d := newDelivery(m, audience, compressPayload(m.Payload, compressMin))
		e := r.entry(d)
		e.retracted = m.Retracted
		if bytes+e.size+e.shared > r.limit { // audiences read from the log are each their own
			break
		}
		bytes += e.size + e.shared
		back = append(back, e)
	}
	slices.Reverse(back)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries, r.off, r.bytes, r.last, r.held = back[:0], 0, 0, last, nil
	for _, e := range back {
		r.hold(e)
	}
	r.start = last + 1 - uint64(len(back))
	return nil
}

// hold appends e, counting its frames and, if no entry holds it yet, its
// audience. r.mu is held.
func (r *recent) hold(e recentEntry) {
	if r.held == nil {
		r.held = map[*roaring.Bitmap]int{}
	}
	if r.held[e.audience]++; r.held[e.audience] == 1 {
		r.bytes += e.shared
	}
	r.entries = append(r.entries, e)
	r.bytes += e.size
}

// dropOldest removes the oldest entry. r.mu is held.
func (r *recent) dropOldest() {
	e := r.entries[r.off]
	if r.held[e.audience]--; r.held[e.audience] == 0 {
		delete(r.held, e.audience)
		r.bytes -= e.shared
	}
	r.bytes -= e.size
	r.entries[r.off] = recentEntry{}
	r.off++
	r.start++
}

// entry is d as the cache keeps it.
func (r *recent) entry(d *delivery) recentEntry {
	push := d.push
	if len(push.plain) > recentMaxFrame {
		push = pushFrames{}
	}
	size := len(push.plain) + len(push.compressed) + recentOverhead
	return recentEntry{id: d.id, push: push, audience: d.audience, expires: d.expires, published: d.published, payload: d.payload, size: size, shared: int(d.audience.GetSizeInBytes())}
}

// add appends a committed broadcast (writer goroutine). A broadcast that
// does not follow the last one (none should) starts the cache over.
func (r *recent) add(d *delivery) {
	if r.limit <= 0 {
		return
	}
	e := r.entry(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.id != r.last+1 {
		clear(r.entries)
		r.entries, r.off, r.bytes, r.start, r.held = r.entries[:0], 0, 0, d.id, nil
	}
	r.hold(e)
	r.last = d.id
	for r.bytes > r.limit && r.off < len(r.entries) {
		r.dropOldest()
	}
	if r.off > len(r.entries)/2 {
		n := copy(r.entries, r.entries[r.off:])
		clear(r.entries[n:])
		r.entries, r.off = r.entries[:n], 0
	}
}

// retract marks a broadcast retracted (writer goroutine).
func (r *recent) retract(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id >= r.start && id <= r.last {
		r.entries[r.off+int(id-r.start)].retracted = true
	}
}

// page is the catch-up page after cursor for user, as Store.BroadcastsFor
// would answer it, skipping ids below floor (past retention); ok is false
// when the cache does not reach back to cursor.
func (r *recent) page(user uint32, cursor uint64, limit, maxBytes int, nowMillis, floor uint64, compress bool) (frames [][]byte, last uint64, more, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.limit <= 0 || cursor+1 < r.start {
		return nil, cursor, false, false
	}
	last = cursor
	if cursor >= r.last {
		return nil, last, false, true
	}
	size := 0
	// Sized for the common page (every broadcast since the cursor is the
	// user's) without reserving much when few are.
	frames = make([][]byte, 0, min(limit, int(r.last-cursor), 256))
	var in audienceProbe
	for _, e := range r.entries[r.off+int(cursor+1-r.start):] {
		if len(frames) >= limit || size >= maxBytes {
			return frames, last, true, true
		}
		if e.id >= floor && !e.retracted && (e.expires == 0 || e.expires > nowMillis) && in.contains(e.audience, user) {
			if e.push.plain == nil {
				return nil, cursor, false, false // too large to keep: read the log
			}
			frames = append(frames, e.push.pick(compress))
			size += e.payload
		}
		last = e.id
	}
	return frames, last, false, true
}

// each calls fn, in id order, for each broadcast after after and up to
// through whose audience contains user, with its publish time and whether
// catch-up skips it at nowMillis (retracted, or its TTL passed); ok is
// false, and fn not called, when the cache does not reach back to after.
func (r *recent) each(user uint32, after, through, nowMillis uint64, fn func(id, published uint64, skipped bool)) (ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.limit <= 0 || after+1 < r.start || through > r.last {
		return false
	}
	if after >= through {
		return true
	}
	var in audienceProbe
	for _, e := range r.entries[r.off+int(after+1-r.start) : r.off+int(through+1-r.start)] {
		if in.contains(e.audience, user) {
			fn(e.id, e.published, e.retracted || (e.expires != 0 && e.expires <= nowMillis))
		}
	}
	return true
}

// audienceProbe answers "is user in this audience" for a run of entries,
// probing each bitmap once: consecutive broadcasts of an account whose
// sets did not change hold the very same audience (the audience memo).
type audienceProbe struct {
	last *roaring.Bitmap
	in   bool
}

func (p *audienceProbe) contains(audience *roaring.Bitmap, user uint32) bool {
	if audience != p.last {
		p.last, p.in = audience, audience.Contains(user)
	}
	return p.in
}
