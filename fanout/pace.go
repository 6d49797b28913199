package fanout

import (
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/wire"
)

// Speed levels: a broadcast published with one goes out to its audience
// at that many deliveries a minute (the PUBLISH flags' SPEED field; 0 is
// as fast as the loops write). The pacer walks the frozen audience in id
// order, releasing users to the loops every pacingTick; a loop writes the
// broadcast to the released users online on it. Order is kept: a user
// who is sent a later message before its turn gets the paced broadcast
// just before it (so other broadcasts are never held back, and no
// connection sees ids out of order). Users offline get it on catch-up as
// always; a retraction stops the pacing.
var speedLevels = [...]int{0, 800_000, 600_000, 400_000, 200_000, 100_000}

// MaxSpeedLevel is the slowest speed level.
const MaxSpeedLevel = len(speedLevels) - 1

// SpeedPerMinute is a speed level's deliveries a minute (0: unpaced).
func SpeedPerMinute(level uint8) int {
	if int(level) >= len(speedLevels) {
		return 0
	}
	return speedLevels[level]
}

const pacingTick = 10 * time.Millisecond

// releasedAll is the threshold that releases every user.
const releasedAll = uint64(1) << 32

// pace releases d's audience to the loops at d.pace users a millisecond,
// then lets the loops finish it; at Close it releases the rest at once.
func (e *Engine) pace(d *delivery) {
	start := time.Now()
	t := time.NewTicker(pacingTick)
	defer t.Stop()
	for {
		pos := uint64(float64(time.Since(start).Microseconds()) / 1000 * d.pace)
		if pos >= d.cardinality {
			e.hub.release(d.id, releasedAll)
			return
		}
		if at, err := d.audience.Select(uint32(pos)); err == nil {
			e.hub.release(d.id, uint64(at))
		}
		select {
		case <-t.C:
		case <-e.stop:
			e.hub.release(d.id, releasedAll)
			return
		}
	}
}

// release tells every loop that d's users below threshold may be sent it.
func (h *Hub) release(id, threshold uint64) {
	h.mu.Lock()
	loops := h.mu.loops
	h.mu.Unlock()
	for _, x := range loops {
		_ = x.loop.Execute(func() { x.releasePaced(id, threshold) })
	}
}

// pacedState is one paced broadcast on one loop: users below released
// have had their turn; early are those sent it ahead of their turn, before
// a later message; reached and failed gather its outcome on the loop.
type pacedState struct {
	d        *delivery
	released uint64
	early    *roaring.Bitmap
	reached  *roaring.Bitmap
	failed   []uint32
}

// pending reports whether user is still to be sent p's broadcast on its
// turn.
func (p *pacedState) pending(user uint32) bool {
	return uint64(user) >= p.released && !p.early.Contains(user) && p.d.audience.Contains(user)
}

// holdPaced takes the paced broadcasts out of ds, keeping each as the
// loop's pacedState (in id order), and returns the others; a RETRACTED
// notice in ds ends the pacing of the broadcast it withdraws.
func (x *LoopIndex) holdPaced(ds []*delivery) []*delivery {
	rest := x.unpaced[:0]
	for _, d := range ds {
		switch {
		case d.pace > 0:
			x.paced = append(x.paced, &pacedState{d: d, early: roaring.New(), reached: roaring.New()})
			continue
		case d.id == 0:
			x.endPaced(d.retracts)
		}
		rest = append(rest, d)
	}
	x.unpaced = rest
	return rest
}

// hasPaced reports whether ds holds a paced broadcast or a retraction
// while the loop paces one.
func (x *LoopIndex) hasPaced(ds []*delivery) bool {
	for _, d := range ds {
		if d.pace > 0 || d.id == 0 && len(x.paced) > 0 {
			return true
		}
	}
	return false
}

// pullsFor returns the paced broadcasts to send user ahead of its turn:
// those below the newest of ds it is about to get (same shard), not yet
// sent to it.
func (x *LoopIndex) pullsFor(user uint32, ds []*delivery) []*pacedState {
	var newest uint64
	for _, d := range ds {
		if d.id != 0 && d.audience.Contains(user) {
			newest = d.id
		}
	}
	pulls := x.pulls[:0]
	for _, p := range x.paced {
		if newest != 0 && p.d.id < newest && wire.ShardOf(p.d.id) == wire.ShardOf(newest) && p.pending(user) {
			pulls = append(pulls, p)
		}
	}
	x.pulls = pulls
	return pulls
}

// releasePaced sends the paced broadcast id to the users online on this
// loop whose turn came (below threshold), and ends its pacing here once
// every user is released.
func (x *LoopIndex) releasePaced(id, threshold uint64) {
	var p *pacedState
	var at int
	for i, q := range x.paced {
		if q.d.id == id {
			p, at = q, i
		}
	}
	if p == nil || threshold <= p.released {
		return
	}
	x.delivering = true
	x.sent, x.bytes = 0, 0
	it := x.online.Iterator()
	it.AdvanceIfNeeded(uint32(min(p.released, releasedAll-1)))
	for it.HasNext() {
		user := it.PeekNext()
		if uint64(user) >= threshold {
			break
		}
		it.Next()
		if !p.pending(user) {
			continue
		}
		x.deliverPaced(user, x.users[x.slot[user]].sinks, p)
	}
	p.released = threshold
	x.delivering = false
	x.hub.delivered.Add(uint64(x.sent))
	x.hub.deliveredBytes.Add(uint64(x.bytes))
	x.applyDeferred()
	if threshold >= releasedAll {
		x.paced = append(x.paced[:at], x.paced[at+1:]...)
		if p.d.job != nil {
			p.d.job.loopDone(p.reached, p.failed)
		}
	}
}

// deliverPaced writes p's broadcast to one user's sinks on its turn.
func (x *LoopIndex) deliverPaced(user uint32, sinks []sinkEntry, p *pacedState) {
	written := false
	for _, entry := range sinks {
		frame := p.d.push.pick(entry.compress)
		x.frames, x.ids = append(x.frames[:0], frame), append(x.ids[:0], p.d.id)
		x.sent++
		x.bytes += len(frame)
		if entry.sink.Deliver(x.frames, x.ids) {
			written = true
		}
	}
	p.reached.Add(user)
	if !written {
		p.failed = append(p.failed, user)
	}
}

// endPaced stops pacing broadcast id on this loop (it was retracted): the
// users still waiting are counted pending; they would skip it on
// catch-up anyway.
func (x *LoopIndex) endPaced(id uint64) {
	for i, p := range x.paced {
		if p.d.id == id {
			x.paced = append(x.paced[:i], x.paced[i+1:]...)
			if p.d.job != nil {
				p.d.job.loopDone(p.reached, p.failed)
			}
			return
		}
	}
}
