package fanout

import (
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/klauspost/compress/s2"

	"herald/storage"
	"herald/wire"
)

// delivery is one broadcast on its way out: its frames are encoded (and
// compressed) once and shared by every loop and every sink.
type delivery struct {
	id          uint64
	push        pushFrames
	audience    *roaring.Bitmap
	cardinality uint64
	job         *job // nil for control frames
	// seq numbers control frames (RETRACTED) in commit order, from 1;
	// retracts is the id a RETRACTED frame withdraws.
	seq, retracts uint64
	// expires (Unix ms, 0: never) and payload (its length) describe a
	// broadcast for the catch-up cache.
	expires uint64
	payload int
	// published is its commit time (Unix ms), for the delivery curve.
	published uint64
	// pace, if not zero, is how many of its audience a millisecond the
	// pacer releases (a speed level; pace.go).
	pace float64
}

// pushFrames holds the PUSH frames of one broadcast.
type pushFrames struct {
	plain      []byte
	compressed []byte // nil when compression does not pay
}

// pick returns the frame for a connection that accepts compression or not.
func (p pushFrames) pick(compress bool) []byte {
	if compress && p.compressed != nil {
		return p.compressed
	}
	return p.plain
}

// compressPayload returns payload as an S2 block if it is at least
// compressMin bytes (compressMin > 0) and compression saves at least an
// eighth, else nil.
func compressPayload(payload []byte, compressMin int) []byte {
	if compressMin <= 0 || len(payload) < compressMin {
		return nil
	}
	if packed := s2.Encode(nil, payload); len(packed) <= len(payload)-len(payload)/8 {
		return packed
	}
	return nil
}

// encodePush builds the PUSH frames for a stored broadcast; live delivery
// and catch-up send exactly these bytes. packed, if not nil, is the payload
// compressed (compressPayload), for the compressed frame.
func encodePush(m storage.Broadcast, packed []byte) pushFrames {
	push := wire.Push{
		MessageID:    m.ID,
		Account:      m.Account,
		TimeMillis:   m.TimeMillis,
		ContentType:  m.ContentType,
		Payload:      m.Payload,
		Notification: m.Notification,
		Reply:        m.Reply,
	}
	out := pushFrames{plain: wire.AppendPush(make([]byte, 0, wire.HeaderSize+29+len(m.ContentType)+len(m.Payload)), push)}
	if packed != nil {
		push.Payload, push.Compressed = packed, true
		out.compressed = wire.AppendPush(make([]byte, 0, wire.HeaderSize+29+len(m.ContentType)+len(packed)), push)
	}
	return out
}

func newDelivery(m storage.Broadcast, audience *roaring.Bitmap, packed []byte) *delivery {
	d := &delivery{id: m.ID, push: encodePush(m, packed), audience: audience, cardinality: audience.GetCardinality(), payload: len(m.Payload), published: m.TimeMillis}
	if m.TTLSeconds > 0 {
		d.expires = m.TimeMillis + uint64(m.TTLSeconds)*1000
	}
	return d
}

// Hub is the online index: one LoopIndex per event loop.
type Hub struct {
	mu struct {
		sync.Mutex
		loops  []*LoopIndex
		relays []Relay
	}
	delivered      atomic.Uint64
	deliveredBytes atomic.Uint64
}

// Register adds a loop and returns its index. Call once per loop.
func (h *Hub) Register(loop Loop) *LoopIndex {
	x := &LoopIndex{hub: h, loop: loop, online: roaring.New(), slot: make(map[uint32]int32)}
	x.drainFn = x.drain
	h.mu.Lock()
	h.mu.loops = append(h.mu.loops, x)
	h.mu.Unlock()
	return x
}

// Delivered returns how many PUSH frames live delivery has handed to sinks.
func (h *Hub) Delivered() uint64 { return h.delivered.Load() }

// DeliveredBytes returns the bytes of those frames.
func (h *Hub) DeliveredBytes() uint64 { return h.deliveredBytes.Load() }

// dispatch queues d on every loop. Called by the writer in id order, so each
// loop sees broadcasts in id order.
func (h *Hub) dispatch(d *delivery) {
	h.mu.Lock()
	loops, relays := h.mu.loops, h.mu.relays
	h.mu.Unlock()
	if d.job != nil {
		d.job.start(len(loops) + len(relays))
	}
	for _, x := range loops {
		x.enqueue(d)
	}
	if len(relays) == 0 {
		return
	}
	done := func(reached, failed *roaring.Bitmap) {}
	if d.job != nil {
		done = d.job.merge
	}
	for _, r := range relays {
		r.Relay(d.relayed(), done)
	}
}

func (h *Hub) addRelay(r Relay) {
	h.mu.Lock()
	h.mu.relays = append(h.mu.relays, r)
	h.mu.Unlock()
}

// LoopIndex is one loop's online users. Except for enqueue, its methods run
// on that loop.
//
// Broadcasts reach a loop through a queue: the first one queued schedules a
// drain on the loop, and every broadcast queued before the drain runs is
// written in the same pass, so a connection gets all of them in one writev.
// Under light load a drain carries one broadcast; when broadcasts arrive
// faster than the loop writes, drains grow and syscalls per delivery fall.
type LoopIndex struct {
	hub  *Hub
	loop Loop
	mu   struct {
		sync.Mutex
		pending   []*delivery
		scheduled bool
	}
	drainFn func()
	// The rest is owned by the loop. online is the users online; users
	// holds each with its sinks, in no order, and slot is a user's index
	// in it: a walk over every online user scans users without a lookup.
	online *roaring.Bitmap
	users  []onlineUser
	slot   map[uint32]int32
	// delivering is set while a drain walks the online users; changes made
	// by sinks closing during the walk wait in deferred.
	delivering bool
	deferred   []sinkChange
	batch      []*delivery
	frames     [][]byte
	ids        []uint64
	failed     [][]uint32 // per delivery of the batch: users whose writes all failed
	iter       roaring.ManyIntIterator
	buf        [256]uint32
	// sent and bytes count a drain's PUSH frames and their bytes.
	sent, bytes int
	// seen is, per shard, the highest message id drained on this loop;
	// controls are
	// the last retractions drained (at most maxControls), for connections
	// that go online after a catch-up scan that began before them.
	seen     wire.Cursor
	controls []*delivery
	// paced are the paced broadcasts this loop is sending, in id order
	// (pace.go); unpaced and pulls are scratch.
	paced   []*pacedState
	unpaced []*delivery
	pulls   []*pacedState
}

// maxControls is how many recent RETRACTED notices a loop keeps for
// connections going online; a catch-up racing more retractions than this
// misses the oldest notices (their broadcasts are still left out of every
// later catch-up).
const maxControls = 256

// sinkEntry is one online sink with its constants, copied when it goes
// online so the delivery loop makes no call to learn them.
type sinkEntry struct {
	sink     Sink
	compress bool
}

// onlineUser is a user online on a loop, with its sinks (devices).
type onlineUser struct {
	user  uint32
	sinks []sinkEntry
}

type sinkChange struct {
	user  uint32
	entry sinkEntry
	add   bool
}

// Add puts sink online for user after a catch-up that covered the ids up
// to covered in each shard and began at retraction count since
// (engine.Page's Last and Epoch); compress says whether it accepts
// compressed frames. A user may have several sinks (devices). It refuses
// if the loop drained a broadcast above covered in its shard meanwhile
// (the caller resumes again from covered); it first writes the RETRACTED
// notices for the user drained since the scan.
func (x *LoopIndex) Add(user uint32, sink Sink, compress bool, covered wire.Cursor, since uint64) bool {
	for _, seen := range x.seen {
		if !covered.Covers(seen) {
			return false
		}
	}
	x.frames, x.ids = x.frames[:0], x.ids[:0]
	for _, d := range x.controls {
		if d.seq > since && d.audience.Contains(user) {
			x.frames = append(x.frames, d.push.plain)
			x.ids = append(x.ids, 0)
		}
	}
	if len(x.frames) > 0 {
		sink.Deliver(x.frames, x.ids)
	}
	x.add(user, sink, compress)
	return true
}

// add puts sink online unconditionally.
func (x *LoopIndex) add(user uint32, sink Sink, compress bool) {
	entry := sinkEntry{sink: sink, compress: compress}
	if x.delivering {
		x.deferred = append(x.deferred, sinkChange{user: user, entry: entry, add: true})
		return
	}
	if i, ok := x.slot[user]; ok {
		x.users[i].sinks = append(x.users[i].sinks, entry)
		return
	}
	x.slot[user] = int32(len(x.users))
	x.users = append(x.users, onlineUser{user: user, sinks: []sinkEntry{entry}})
	x.online.Add(user)
}

// Remove takes sink offline; it is a no-op for a sink that is not online.
func (x *LoopIndex) Remove(user uint32, sink Sink) {
	if x.delivering {
		x.deferred = append(x.deferred, sinkChange{user: user, entry: sinkEntry{sink: sink}})
		return
	}
	i, ok := x.slot[user]
	if !ok {
		return
	}
	list := x.users[i].sinks
	for j, s := range list {
		if s.sink == sink {
			list = append(list[:j], list[j+1:]...)
			break
		}
	}
	if len(list) > 0 {
		x.users[i].sinks = list
		return
	}
	// The last user takes its place.
	last := int32(len(x.users) - 1)
	if i != last {
		x.users[i] = x.users[last]
		x.slot[x.users[i].user] = i
	}
	x.users[last] = onlineUser{}
	x.users = x.users[:last]
	delete(x.slot, user)
	x.online.Remove(user)
}

// Online returns how many users are online on this loop.
func (x *LoopIndex) Online() int { return int(x.online.GetCardinality()) }

// enqueue adds d to the loop's queue, scheduling a drain if none is
// pending. Safe from any goroutine.
func (x *LoopIndex) enqueue(d *delivery) {
	x.mu.Lock()
	x.mu.pending = append(x.mu.pending, d)
	schedule := !x.mu.scheduled
	x.mu.scheduled = true
	x.mu.Unlock()
	if !schedule {
		return
	}
	if err := x.loop.Execute(x.drainFn); err != nil {
		// The loop is shutting down; its clients will resume elsewhere.
		x.mu.Lock()
		dropped := x.mu.pending
		x.mu.pending = nil
		x.mu.scheduled = false
		x.mu.Unlock()
		for _, d := range dropped {
			if d.job != nil {
				d.job.loopDone(nil, nil)
			}
		}
	}
}

// drain writes every queued broadcast. It runs on the loop.
func (x *LoopIndex) drain() {
	x.mu.Lock()
	x.batch, x.mu.pending = x.mu.pending, x.batch[:0]
	x.mu.scheduled = false
	x.mu.Unlock()
	x.deliver(x.batch)
	clear(x.batch)
}

// deliver writes each broadcast of ds (in id order) to every sink of
// audience ∧ online, all of a sink's frames in one Deliver call. It scans
// the online users, or walks the audience when that is smaller, probes the
// other, and allocates nothing.
func (x *LoopIndex) deliver(ds []*delivery) {
	if len(ds) == 0 {
		return
	}
	all := ds
	if x.hasPaced(ds) {
		ds = x.holdPaced(ds)
	}
	x.delivering = true
	x.sent, x.bytes = 0, 0
	for len(x.failed) < len(ds) {
		x.failed = append(x.failed, nil)
	}
	switch {
	case len(ds) == 0: // only paced broadcasts, held for their turns
	case len(ds) == 1 && ds[0].cardinality < uint64(len(x.users)):
		x.iter.Initialize(ds[0].audience)
		for n := x.iter.NextMany(x.buf[:]); n > 0; n = x.iter.NextMany(x.buf[:]) {
			for _, user := range x.buf[:n] {
				if i, ok := x.slot[user]; ok {
					x.deliverTo(user, x.users[i].sinks, ds)
				}
			}
		}
	default:
		for i := range x.users {
			x.deliverTo(x.users[i].user, x.users[i].sinks, ds)
		}
	}
	sent, bytes := x.sent, x.bytes
	for _, d := range all {
		if d.id != 0 {
			x.seen = x.seen.Advance(d.id)
		}
		if d.id == 0 {
			if len(x.controls) == maxControls {
				x.controls = append(x.controls[:0], x.controls[1:]...)
			}
			x.controls = append(x.controls, d)
		}
	}
	// Report before the deferred changes: online is still what was walked.
	for i, d := range ds {
		if d.job != nil {
			d.job.loopDone(roaring.And(d.audience, x.online), x.failed[i])
		}
		x.failed[i] = x.failed[i][:0]
	}
	x.delivering = false
	x.hub.delivered.Add(uint64(sent))
	x.hub.deliveredBytes.Add(uint64(bytes))
	x.applyDeferred()
}

// applyDeferred makes the sink changes that waited for a walk.
func (x *LoopIndex) applyDeferred() {
	for _, c := range x.deferred {
		if c.add {
			x.add(c.user, c.entry.sink, c.entry.compress)
		} else {
			x.Remove(c.user, c.entry.sink)
		}
	}
	clear(x.deferred)
	x.deferred = x.deferred[:0]
}

// deliverTo writes to one online user's sinks the broadcasts of ds its
// audience holds, and notes the user as failed for them if every write
// failed.
func (x *LoopIndex) deliverTo(user uint32, sinks []sinkEntry, ds []*delivery) {
	attempted, written := false, false
	var pulls []*pacedState
	if len(x.paced) > 0 {
		pulls = x.pullsFor(user, ds)
	}
	for _, entry := range sinks {
		x.frames, x.ids = x.frames[:0], x.ids[:0]
		next := 0 // pulls[next:] are to go before a later frame
		for _, d := range ds {
			for ; next < len(pulls) && d.id != 0 && pulls[next].d.id < d.id && d.audience.Contains(user); next++ {
				frame := pulls[next].d.push.pick(entry.compress)
				x.frames, x.ids = append(x.frames, frame), append(x.ids, pulls[next].d.id)
				x.bytes += len(frame)
				x.sent++
			}
			if d.audience.Contains(user) {
				frame := d.push.pick(entry.compress)
				x.frames = append(x.frames, frame)
				x.ids = append(x.ids, d.id)
				x.bytes += len(frame)
				if d.id != 0 {
					x.sent++
				}
			}
		}
		if len(x.frames) > 0 {
			attempted = true
			if entry.sink.Deliver(x.frames, x.ids) {
				written = true
			}
		}
	}
	for _, p := range pulls {
		p.early.Add(user)
		p.reached.Add(user)
		if !written {
			p.failed = append(p.failed, user)
		}
	}
	if attempted && !written {
		for i, d := range ds {
			if d.audience.Contains(user) {
				x.failed[i] = append(x.failed[i], user)
			}
		}
	}
}
