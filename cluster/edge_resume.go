package cluster

import (
	"encoding/binary"
	"errors"
	"sync"

	"herald/engine"
	"herald/wire"
)

// pageBudget is about how many bytes of frames one catch-up page of an
// edge holds: each core's page is at most its own limit (about 1 MiB), and
// the pages of several cores are cut to this so that a page stays well
// under a connection's slow-consumer cap however many shards there are.
const pageBudget = 1 << 20

// Resume asks every core at once for a page of its shard, each from the
// cursor's id in that shard, and answers one page: the cores' frames in
// shard order (ids increase within each shard) and a Last naming every
// shard. Where the frames would pass pageBudget, the later cores' pages are
// left for the next RESUME: their Last is the id before their first
// frame (the scan found nothing for the user below it), and More is set.
// The epoch is the edge's own count of retractions, read before the
// requests: the loops' notices are numbered by the edge.
func (e *Edge) Resume(req engine.ResumeRequest, done func(engine.Page, error)) {
	epoch := e.retractions.Load()
	for _, id := range req.Cursor {
		if shard := wire.ShardOf(id); int(shard) >= len(e.links) && id != wire.ShardBase(shard) {
			// A shard this cluster does not have: another history.
			done(engine.Page{}, &engine.CursorAheadError{Cursor: id, Newest: wire.ShardBase(uint8(len(e.links)))})
			return
		}
	}
	go func() {
		pages := make([]engine.Page, len(e.links))
		errs := make([]error, len(e.links))
		var wg sync.WaitGroup
		for i, l := range e.links {
			q := req
			q.Cursor, q.Sent = wire.CursorAt(req.Cursor.At(l.shard)), wire.CursorAt(req.Sent.At(l.shard))
			wg.Add(1)
			go func() {
				defer wg.Done()
				pages[i], errs[i] = roundTrip(e, l.shard, mResume, encResume(q), decPage)
			}()
		}
		wg.Wait()
		if err := firstResumeError(errs); err != nil {
			done(engine.Page{}, err)
			return
		}
		done(mergePages(pages, epoch), nil)
	}()
}

// firstResumeError prefers a cursor from another history (the client
// starts over) to a core that cannot be reached (it retries).
func firstResumeError(errs []error) error {
	var ahead *engine.CursorAheadError
	for _, err := range errs {
		if errors.As(err, &ahead) {
			return err
		}
	}
	return errors.Join(errs...)
}

// mergePages makes one page of the cores' pages, in shard order.
func mergePages(pages []engine.Page, epoch uint64) engine.Page {
	out := engine.Page{Epoch: epoch}
	bytes := 0
	for _, p := range pages {
		out.HistoryMissed = out.HistoryMissed || p.HistoryMissed
		size := 0
		for _, f := range p.Frames {
			size += len(f)
		}
		if len(out.Frames) > 0 && size > 0 && bytes+size > pageBudget {
			out.Last = out.Last.Advance(pushID(p.Frames[0]) - 1)
			out.More = true
			continue
		}
		out.Frames = append(out.Frames, p.Frames...)
		bytes += size
		out.Last = out.Last.Merge(p.Last)
		out.More = out.More || p.More
	}
	return out
}

// pushID is the message id of a PUSH frame (the first field of its body).
func pushID(frame []byte) uint64 {
	return binary.BigEndian.Uint64(frame[wire.HeaderSize:])
}
