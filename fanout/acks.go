package fanout

import (
	"sync"

	"herald/storage"
)

// acks holds acknowledgements and openings until they are saved, and
// counts what each acknowledgement delivered: the broadcasts addressed to
// the user between the cursor already saved and the acknowledged id, each
// user once per broadcast however many times or devices acknowledge it,
// saved in the batch that moves the cursor (storage.SaveAcknowledgements).
//
// put, open and get are called from any goroutine; flush from one at a
// time (the engine's saver, then Close).
type acks struct {
	store     *storage.Store
	recent    *recent
	analytics bool
	mu        struct {
		sync.Mutex
		// pending and saving (what a flush is writing) hold each user's
		// acknowledgements in increasing id order; a reader looks in both,
		// so a cursor is never in neither memory nor the store.
		pending, saving map[uint32][]ack
		openings        []storage.Opening
		dropped         uint64
	}
	// counted caches saved cursors of users seen lately (flush only), so
	// that a user acknowledging again costs no read.
	counted map[uint32]uint64
}

// ack is one acknowledgement: the cumulative id, the highest id of the
// shard the connection was sent on a catch-up page, and its arrival (Unix
// ms).
type ack struct{ id, caughtUp, at uint64 }

const (
	// maxAcksPerUser bounds one user's acknowledgements kept between
	// flushes; beyond it the newest replaces the last (the delivery
	// curve then dates the merged ones by the later arrival).
	maxAcksPerUser = 16
	// maxOpenings bounds the openings kept between flushes; beyond it they
	// are dropped (and counted as such).
	maxOpenings = 1 << 20
	// maxCounted bounds the saved-cursor cache.
	maxCounted = 1 << 18
)

func (a *acks) init(store *storage.Store, recent *recent, analytics bool) {
	a.store, a.recent, a.analytics = store, recent, analytics
	a.mu.pending = make(map[uint32][]ack)
	a.counted = make(map[uint32]uint64)
}

// put records user's acknowledgement.
func (a *acks) put(user uint32, k ack) {
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.mu.pending[user]
	switch n := len(list); {
	case n > 0 && k.id <= list[n-1].id:
		return // nothing new
	case !a.analytics && n > 0, n >= maxAcksPerUser:
		list[n-1] = k
	default:
		list = append(list, k)
	}
	a.mu.pending[user] = list
}

// open records that user opened broadcast id.
func (a *acks) open(user uint32, id uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.mu.openings) >= maxOpenings {
		a.mu.dropped++
		return
	}
	a.mu.openings = append(a.mu.openings, storage.Opening{Message: id, User: user})
}

// get returns the newest acknowledgement of user not yet saved.
func (a *acks) get(user uint32) (uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if list := a.mu.pending[user]; len(list) > 0 {
		return list[len(list)-1].id, true
	}
	if list := a.mu.saving[user]; len(list) > 0 {
		return list[len(list)-1].id, true
	}
	return 0, false
}

// flush saves what is pending. A failed save keeps it pending.
func (a *acks) flush() error {
	a.mu.Lock()
	batch, openings := a.mu.pending, a.mu.openings
	if len(batch) == 0 && len(openings) == 0 {
		a.mu.Unlock()
		return nil
	}
	a.mu.pending, a.mu.saving, a.mu.openings = make(map[uint32][]ack), batch, nil
	a.mu.Unlock()
	saved := storage.Acknowledgements{Cursors: make(map[uint32]uint64, len(batch)), Openings: openings}
	if a.analytics {
		saved.Deliveries = make(map[uint64]storage.Delivery)
	}
	err := a.count(batch, &saved)
	if err == nil {
		err = a.store.SaveAcknowledgements(saved)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mu.saving = nil
	if err != nil {
		// Back in front of what arrived meanwhile, still in id order.
		for user, list := range batch {
			for _, k := range a.mu.pending[user] {
				if k.id > list[len(list)-1].id {
					list = append(list, k)
				}
			}
			a.mu.pending[user] = list
		}
		a.mu.openings = append(openings, a.mu.openings...)
		return err
	}
	if a.analytics {
		if len(a.counted)+len(saved.Cursors) > maxCounted {
			clear(a.counted)
		}
		for user, c := range saved.Cursors {
			a.counted[user] = c
		}
	}
	return nil
}

// count turns each user's acknowledgements into the cursor to save and,
// with analytics, the deliveries they make.
func (a *acks) count(batch map[uint32][]ack, saved *storage.Acknowledgements) error {
	for user, list := range batch {
		if !a.analytics {
			saved.Cursors[user] = list[len(list)-1].id
			continue
		}
		base, ok := a.counted[user]
		if !ok {
			var err error
			if base, err = a.store.Cursor(user); err != nil {
				return err
			}
		}
		for _, k := range list {
			if k.id <= base {
				continue
			}
			if err := a.deliver(user, base, k, saved.Deliveries); err != nil {
				return err
			}
			base = k.id
		}
		saved.Cursors[user] = base
	}
	return nil
}

// deliver counts the broadcasts addressed to user in (after, k.id]. One
// that catch-up skips (retracted, or its TTL passed) counts only if it was
// sent live, above the connection's catch-up.
func (a *acks) deliver(user uint32, after uint64, k ack, into map[uint64]storage.Delivery) error {
	add := func(id, published uint64, skipped bool) {
		caughtUp := id <= k.caughtUp
		if skipped && caughtUp {
			return
		}
		d := into[id]
		d.Delivered++
		if caughtUp {
			d.CaughtUp++
		}
		age := k.at - min(k.at, published)
		for i, limit := range storage.CurveMillis {
			if age <= limit {
				d.Curve[i]++
			}
		}
		into[id] = d
	}
	if a.recent.each(user, after, k.id, k.at, add) {
		return nil
	}
	return a.store.Addressed(user, after, k.id, func(m storage.Broadcast) {
		add(m.ID, m.TimeMillis, m.Retracted || m.Expired(k.at))
	})
}

// Acknowledge records user's cumulative acknowledgement of id; caughtUp is
// the highest id of id's shard the connection was sent on a catch-up page.
// Cursors, and what they delivered, are saved in batches.
func (e *Engine) Acknowledge(user uint32, id, caughtUp uint64) {
	e.acks.put(user, ack{id: id, caughtUp: caughtUp, at: e.nowMillis()})
}

// Open records that user opened broadcast id; it counts once per user, if
// the user is in the broadcast's audience, when the next batch of
// acknowledgements is saved.
func (e *Engine) Open(user uint32, id uint64) {
	if e.acks.analytics && id >= e.store.FirstRetained() && id <= e.store.LastMessageID() {
		e.acks.open(user, id)
	}
}
