package fanout

import (
	"errors"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage"
)

// Relayed is a committed broadcast or retraction as it crosses to another
// process: a cluster's core hands it to its edges (Relay), which deliver it
// on their own loops (Hub.Inject) exactly as the engine's loops would.
type Relayed struct {
	// ID is the broadcast's id; 0 for a retraction, whose Retracts is the
	// id it withdraws.
	ID, Retracts uint64
	// Plain and Compressed are the PUSH frames (for a retraction, Plain is
	// the RETRACTED frame); Compressed is nil when compression does not
	// pay. They are shared and read-only.
	Plain, Compressed []byte
	// Audience is the frozen audience, read-only.
	Audience *roaring.Bitmap
	// Expires is the Unix ms at which the broadcast's TTL ends (0: never);
	// Payload is its payload's length.
	Expires uint64
	Payload int
}

// Relay takes the engine's committed broadcasts and retractions to other
// processes. The engine counts each relay as one of its loops: a
// broadcast's job report waits for its done.
type Relay interface {
	// Relay is called on the writer goroutine for every committed
	// broadcast and retraction, in commit order, and must not block. done
	// must be called once, from any goroutine: reached are the recipients
	// whose live connections were written the broadcast, failed those
	// whose every write failed (neither is kept).
	Relay(r Relayed, done func(reached, failed *roaring.Bitmap))
}

func (d *delivery) relayed() Relayed {
	return Relayed{ID: d.id, Retracts: d.retracts, Plain: d.push.plain, Compressed: d.push.compressed,
		Audience: d.audience, Expires: d.expires, Payload: d.payload}
}

// AddRelay makes r receive every broadcast committed from now on. Call it
// before the engine is published to.
func (e *Engine) AddRelay(r Relay) { e.hub.addRelay(r) }

// Inject delivers a broadcast or retraction committed elsewhere on the
// hub's loops, after those injected before it: the caller injects in id
// order. seq numbers retractions (engine.Page.Epoch of this hub's pages),
// counting from 1. done, if not nil, is told the outcome once every loop
// has written it.
func (h *Hub) Inject(r Relayed, seq uint64, done func(reached, failed *roaring.Bitmap)) {
	d := &delivery{id: r.ID, retracts: r.Retracts, push: pushFrames{plain: r.Plain, compressed: r.Compressed},
		audience: r.Audience, cardinality: r.Audience.GetCardinality(), expires: r.Expires, payload: r.Payload}
	if r.ID == 0 {
		d.seq = seq
	}
	if done != nil {
		d.job = newJob(JobReport{}, nil)
		d.job.outcome = done
	}
	h.dispatch(d)
}

// Relayed reads a committed broadcast from the log as Relay handed it out,
// for a process that missed it; retracted reports that it was withdrawn
// since (its frames are then empty). A broadcast past retention is
// ErrUnknownMessage.
func (e *Engine) Relayed(id uint64) (r Relayed, retracted bool, err error) {
	m, err := e.store.Broadcast(id)
	if errors.Is(err, storage.ErrNotFound) {
		return Relayed{}, false, fmt.Errorf("%w: %d is not in the retained log", ErrUnknownMessage, id)
	}
	if err != nil {
		return Relayed{}, false, contract(err)
	}
	if m.Retracted {
		return Relayed{ID: id, Audience: roaring.New()}, true, nil
	}
	audience, err := e.store.Audience(id)
	if err != nil {
		return Relayed{}, false, contract(err)
	}
	return newDelivery(m, audience, compressPayload(m.Payload, e.cfg.CompressMin)).relayed(), false, nil
}
