package fanout

import (
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/server/wire"
	"herald/storage"
)

// Loop is an event loop as the engine sees it.
type Loop interface {
	// Execute runs fn on the loop's goroutine, after the work queued
	// before it. It must be safe to call from any goroutine.
	Execute(fn func()) error
}

// Sink is one client connection as the engine sees it. Its methods are
// called only on the goroutine of the loop it was added to.
type Sink interface {
	// Deliver writes a shared, read-only PUSH frame for messageID. The sink
	// must not modify or keep frame beyond the write.
	Deliver(frame []byte, messageID uint64)
}

// delivery is one broadcast on its way out: the frame is encoded once and
// shared by every loop and every sink.
type delivery struct {
	id          uint64
	frame       []byte
	audience    *roaring.Bitmap
	cardinality uint64
}

// EncodePush builds the PUSH frame for a stored broadcast; live delivery and
// catch-up send exactly these bytes.
func EncodePush(m storage.Broadcast) []byte {
	return wire.AppendPush(make([]byte, 0, wire.HeaderSize+29+len(m.ContentType)+len(m.Payload)), wire.Push{
		MessageID:   m.ID,
		Account:     m.Account,
		TimeMillis:  m.TimeMillis,
		ContentType: m.ContentType,
		Payload:     m.Payload,
	})
}

func newDelivery(m storage.Broadcast, audience *roaring.Bitmap) *delivery {
	return &delivery{id: m.ID, frame: EncodePush(m), audience: audience, cardinality: audience.GetCardinality()}
}

// Hub is the online index: one LoopIndex per event loop.
type Hub struct {
	mu struct {
		sync.Mutex
		loops []*LoopIndex
	}
	delivered atomic.Uint64
}

// Register adds a loop and returns its index. Call once per loop.
func (h *Hub) Register(loop Loop) *LoopIndex {
	x := &LoopIndex{hub: h, loop: loop, online: roaring.New(), sinks: make(map[uint32][]Sink)}
	h.mu.Lock()
	h.mu.loops = append(h.mu.loops, x)
	h.mu.Unlock()
	return x
}

// Delivered returns how many PUSH frames live delivery has handed to sinks.
func (h *Hub) Delivered() uint64 { return h.delivered.Load() }

// dispatch queues d on every loop. Called by the writer in id order, so each
// loop sees broadcasts in id order.
func (h *Hub) dispatch(d *delivery) {
	h.mu.Lock()
	loops := h.mu.loops
	h.mu.Unlock()
	for _, x := range loops {
		x := x
		// An error means the loop is shutting down; its clients will resume.
		_ = x.loop.Execute(func() { x.deliver(d) })
	}
}

// LoopIndex is one loop's online users. All methods run on that loop.
type LoopIndex struct {
	hub    *Hub
	loop   Loop
	online *roaring.Bitmap
	sinks  map[uint32][]Sink
	// delivering is set while deliver walks online; changes made by sinks
	// closing during the walk wait in deferred.
	delivering bool
	deferred   []sinkChange
	iter       roaring.ManyIntIterator
	buf        [256]uint32
}

type sinkChange struct {
	user uint32
	sink Sink
	add  bool
}

// Add puts sink online for user. A user may have several sinks (devices).
func (x *LoopIndex) Add(user uint32, sink Sink) {
	if x.delivering {
		x.deferred = append(x.deferred, sinkChange{user: user, sink: sink, add: true})
		return
	}
	x.sinks[user] = append(x.sinks[user], sink)
	x.online.Add(user)
}

// Remove takes sink offline; it is a no-op for a sink that is not online.
func (x *LoopIndex) Remove(user uint32, sink Sink) {
	if x.delivering {
		x.deferred = append(x.deferred, sinkChange{user: user, sink: sink})
		return
	}
	list := x.sinks[user]
	for i, s := range list {
		if s == sink {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(x.sinks, user)
		x.online.Remove(user)
		return
	}
	x.sinks[user] = list
}

// Online returns how many users are online on this loop.
func (x *LoopIndex) Online() int { return int(x.online.GetCardinality()) }

// deliver writes d's frame to every sink of audience ∧ online. It walks the
// smaller of the two sets and probes the other, and allocates nothing.
func (x *LoopIndex) deliver(d *delivery) {
	walk, probe := x.online, d.audience
	if d.cardinality < x.online.GetCardinality() {
		walk, probe = d.audience, x.online
	}
	x.delivering = true
	sent := 0
	x.iter.Initialize(walk)
	for n := x.iter.NextMany(x.buf[:]); n > 0; n = x.iter.NextMany(x.buf[:]) {
		for _, user := range x.buf[:n] {
			if !probe.Contains(user) {
				continue
			}
			for _, sink := range x.sinks[user] {
				sink.Deliver(d.frame, d.id)
				sent++
			}
		}
	}
	x.delivering = false
	x.hub.delivered.Add(uint64(sent))
	for _, c := range x.deferred {
		if c.add {
			x.Add(c.user, c.sink)
		} else {
			x.Remove(c.user, c.sink)
		}
	}
	clear(x.deferred)
	x.deferred = x.deferred[:0]
}
