package cluster

import (
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// edgeSet is a core's view of the edges: which are alive, and which
// broadcasts still wait for their outcomes. A broadcast's job report
// (fanout.Relay's done) is complete when every edge alive when it was
// relayed has reported every part, has left, or the report timed out.
type edgeSet struct {
	mu      sync.Mutex
	seen    map[string]time.Time
	pending map[uint64]*pendingJob
}

type edgePart struct {
	edge string
	part uint16
}

type pendingJob struct {
	waiting  map[edgePart]struct{}
	reached  *roaring.Bitmap
	failed   *roaring.Bitmap
	done     func(reached, failed *roaring.Bitmap)
	deadline time.Time
}

// finished is a job whose done is to be called, outside the lock.
type finished struct {
	done            func(reached, failed *roaring.Bitmap)
	reached, failed *roaring.Bitmap
}

func (f finished) call() { f.done(f.reached, f.failed) }

func (s *edgeSet) init() {
	s.seen = make(map[string]time.Time)
	s.pending = make(map[uint64]*pendingJob)
}

// Edges returns how many edges are alive.
func (s *edgeSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// expect starts waiting for the outcomes of broadcast id, relayed in
// parts parts, from the edges alive now.
func (s *edgeSet) expect(id uint64, parts int, done func(reached, failed *roaring.Bitmap), deadline time.Time) {
	s.mu.Lock()
	if len(s.seen) == 0 || parts == 0 {
		s.mu.Unlock()
		done(nil, nil)
		return
	}
	j := &pendingJob{waiting: make(map[edgePart]struct{}, len(s.seen)*parts), reached: roaring.New(), failed: roaring.New(), done: done, deadline: deadline}
	for edge := range s.seen {
		for p := range parts {
			j.waiting[edgePart{edge, uint16(p)}] = struct{}{}
		}
	}
	s.pending[id] = j
	s.mu.Unlock()
}

// report records one edge's outcome of one part.
func (s *edgeSet) report(m reportMsg) {
	s.mu.Lock()
	j := s.pending[m.ID]
	if j == nil {
		s.mu.Unlock()
		return
	}
	k := edgePart{m.Edge, m.Part}
	if _, ok := j.waiting[k]; !ok {
		s.mu.Unlock()
		return
	}
	j.reached.Or(m.Reached)
	j.failed.Or(m.Failed)
	if m.More {
		s.mu.Unlock()
		return
	}
	delete(j.waiting, k)
	var f []finished
	if len(j.waiting) == 0 {
		f = append(f, s.finishLocked(m.ID, j))
	}
	s.mu.Unlock()
	for _, x := range f {
		x.call()
	}
}

func (s *edgeSet) finishLocked(id uint64, j *pendingJob) finished {
	delete(s.pending, id)
	return finished{j.done, j.reached, roaring.AndNot(j.failed, j.reached)}
}

// alive records an edge's heartbeat and reports whether it is new.
func (s *edgeSet) alive(edge string, now time.Time) bool {
	s.mu.Lock()
	_, known := s.seen[edge]
	s.seen[edge] = now
	s.mu.Unlock()
	return !known
}

// leave forgets an edge: the broadcasts waiting for it stop waiting.
func (s *edgeSet) leave(edge string) {
	s.mu.Lock()
	f := s.leaveLocked(edge)
	s.mu.Unlock()
	for _, x := range f {
		x.call()
	}
}

func (s *edgeSet) leaveLocked(edge string) []finished {
	delete(s.seen, edge)
	var f []finished
	for id, j := range s.pending {
		for k := range j.waiting {
			if k.edge == edge {
				delete(j.waiting, k)
			}
		}
		if len(j.waiting) == 0 {
			f = append(f, s.finishLocked(id, j))
		}
	}
	return f
}

// expire forgets edges not heard from since cutoff and finishes the jobs
// past their deadline.
func (s *edgeSet) expire(cutoff, now time.Time) {
	s.mu.Lock()
	var f []finished
	for edge, seen := range s.seen {
		if seen.Before(cutoff) {
			f = append(f, s.leaveLocked(edge)...)
		}
	}
	for id, j := range s.pending {
		if now.After(j.deadline) {
			f = append(f, s.finishLocked(id, j))
		}
	}
	s.mu.Unlock()
	for _, x := range f {
		x.call()
	}
}

// abandon finishes every job with what it has (the core is stopping).
func (s *edgeSet) abandon() {
	s.mu.Lock()
	var f []finished
	for id, j := range s.pending {
		f = append(f, s.finishLocked(id, j))
	}
	s.mu.Unlock()
	for _, x := range f {
		x.call()
	}
}
