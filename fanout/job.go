package fanout

import (
	"errors"
	"fmt"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/engine"
	"herald/storage"
)

// job gathers the per-loop results of one broadcast's delivery.
type job struct {
	report JobReport
	done   func(JobReport)
	// outcome, if set, replaces done: it is handed the recipients reached
	// and those failed (Hub.Inject).
	outcome func(reached, failed *roaring.Bitmap)
	mu      struct {
		sync.Mutex
		remaining int
		ok        *roaring.Bitmap // reached on some loop, written
		failed    *roaring.Bitmap // reached on some loop, every write failed
	}
}

func newJob(report JobReport, done func(JobReport)) *job {
	j := &job{report: report, done: done}
	j.mu.ok, j.mu.failed = roaring.New(), roaring.New()
	return j
}

// start sets how many loops will report.
func (j *job) start(loops int) {
	j.mu.Lock()
	j.mu.remaining = loops
	j.mu.Unlock()
	if loops == 0 {
		j.finish()
	}
}

// loopDone records one loop's outcome: reached are the recipients online
// on it, failed those among them whose writes all failed there.
func (j *job) loopDone(reached *roaring.Bitmap, failed []uint32) {
	var bad *roaring.Bitmap
	if reached != nil && len(failed) > 0 {
		bad = roaring.BitmapOf(failed...)
		reached.AndNot(bad)
	}
	j.merge(reached, bad)
}

// merge records the outcome of one loop, or of a relay (see Relay), which
// counts as one: reached written, failed every write failed.
func (j *job) merge(reached, failed *roaring.Bitmap) {
	j.mu.Lock()
	if reached != nil {
		j.mu.ok.Or(reached)
	}
	if failed != nil {
		j.mu.failed.Or(failed)
	}
	j.mu.remaining--
	last := j.mu.remaining == 0
	j.mu.Unlock()
	if last {
		j.finish()
	}
}

func (j *job) finish() {
	if j.outcome != nil {
		j.mu.Lock()
		reached, failed := j.mu.ok, roaring.AndNot(j.mu.failed, j.mu.ok)
		j.mu.Unlock()
		j.outcome(reached, failed)
		return
	}
	j.mu.Lock()
	r := j.report
	r.SentLive = uint32(j.mu.ok.GetCardinality())
	r.Errors = uint32(roaring.AndNot(j.mu.failed, j.mu.ok).GetCardinality())
	j.mu.Unlock()
	r.PendingOffline = r.Total - r.Filtered - r.SentLive - r.Errors
	j.done(r)
}

// jobs tracks deliveries in flight and outcomes not yet saved, for STATUS.
type jobs struct {
	mu struct {
		sync.Mutex
		inflight map[uint64]JobReport
	}
	unsaved writeBehind[uint64, storage.JobOutcome]
}

func (js *jobs) init(store *storage.Store) {
	js.mu.inflight = make(map[uint64]JobReport)
	// A broadcast's delivery finishes once, so there is nothing to merge.
	js.unsaved.init(store.SaveJobOutcomes, func(_, new storage.JobOutcome) storage.JobOutcome { return new })
}

func (js *jobs) started(r JobReport) {
	js.mu.Lock()
	js.mu.inflight[r.MessageID] = r
	js.mu.Unlock()
}

// finished records the outcome before forgetting the delivery, so that a
// lookup (which asks in the other order) always finds one or the other.
func (js *jobs) finished(r JobReport) {
	js.unsaved.put(r.MessageID, storage.JobOutcome{SentLive: r.SentLive, Errors: r.Errors})
	js.mu.Lock()
	delete(js.mu.inflight, r.MessageID)
	js.mu.Unlock()
}

// lookup returns what is known in memory about broadcast id.
func (js *jobs) lookup(id uint64) (inflight bool, outcome storage.JobOutcome, unsaved bool) {
	js.mu.Lock()
	_, inflight = js.mu.inflight[id]
	js.mu.Unlock()
	outcome, unsaved = js.unsaved.get(id)
	return inflight, outcome, unsaved
}

// Status reports the delivery of one of the account's retained
// broadcasts, on a reader.
func (e *Engine) Status(req engine.MessageRef, done func(JobReport, error)) {
	read(e, done, func() (JobReport, error) { return e.status(req.Account, req.MessageID) })
}

func (e *Engine) status(account uint32, id uint64) (JobReport, error) {
	m, err := e.store.Broadcast(id)
	if errors.Is(err, storage.ErrNotFound) {
		return JobReport{}, fmt.Errorf("%w: %d is not in the retained log", ErrUnknownMessage, id)
	}
	if err != nil {
		return JobReport{}, err
	}
	if m.Account != account {
		return JobReport{}, fmt.Errorf("%w: message %d belongs to another account", ErrForbidden, id)
	}
	r := JobReport{MessageID: id, Total: m.Total, Filtered: m.Filtered}
	inflight, outcome, found := e.jobs.lookup(id)
	if !found && !inflight {
		if outcome, found, err = e.store.JobOutcome(id); err != nil {
			return JobReport{}, err
		}
	}
	switch {
	case found:
		r.SentLive, r.Errors = outcome.SentLive, outcome.Errors
	case inflight:
		r.InProgress = true
	default:
		r.Interrupted = true
	}
	r.PendingOffline = r.Total - r.Filtered - r.SentLive - r.Errors
	st, kept, err := e.store.BroadcastStats(id)
	if err != nil {
		return JobReport{}, err
	}
	r.Reach = reachOf(m, st, kept)
	return r, nil
}

// reachOf is a stored broadcast's reach.
func reachOf(m storage.Broadcast, st storage.BroadcastStats, kept bool) engine.Reach {
	r := engine.Reach{PublishedMillis: m.TimeMillis, Preview: m.Preview, Retracted: m.Retracted}
	if kept {
		r.Kept, r.NotSelected, r.Blocked = true, st.NotSelected, st.Blocked
		r.Delivered, r.CaughtUp, r.Opened, r.Curve = st.Delivered, st.CaughtUp, st.Opened, st.Curve
	}
	return r
}
