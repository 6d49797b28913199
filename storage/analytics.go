package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
	"herald/wire"
)

// CurvePoints is how many points a delivery curve has (the protocol's).
const CurvePoints = wire.CurvePoints

// CurveMillis are the delivery curve's points (wire.CurveSeconds), in
// milliseconds after the publish.
var CurveMillis = func() (ms [CurvePoints]uint64) {
	for i, s := range wire.CurveSeconds {
		ms[i] = uint64(s) * 1000
	}
	return ms
}()

// BroadcastStats is what a broadcast did, as stored beside it: the
// audience's filters at publish, then each recipient counted once as its
// acknowledgement and its opening arrive.
type BroadcastStats struct {
	Account    uint32
	TimeMillis uint64
	Preview    bool
	// Direct: a notification or a reply, kept out of the account's
	// broadcast list and day figures (as a preview is out of the latter).
	Direct bool
	// NotSelected: followers the list or expression left out; Blocked:
	// selected followers on the blocklist. Neither is in the audience
	// (Broadcast.Total); Broadcast.Filtered are those at the cap.
	NotSelected uint32
	Blocked     uint32
	// Delivered: recipients whose cumulative acknowledgement covered it;
	// CaughtUp: those of them that were sent it on a catch-up page.
	Delivered uint32
	CaughtUp  uint32
	Opened    uint32
	// Curve[i]: delivered within CurveMillis[i] of the publish.
	Curve [CurvePoints]uint32
}

func encodeBroadcastStats(st BroadcastStats) []byte {
	var w codec.Writer
	w.U32(st.Account)
	w.U64(st.TimeMillis)
	var flags uint8
	if st.Preview {
		flags |= 1
	}
	if st.Direct {
		flags |= 2
	}
	w.U8(flags)
	for _, v := range []uint32{st.NotSelected, st.Blocked, st.Delivered, st.CaughtUp, st.Opened} {
		w.U32(v)
	}
	for _, v := range st.Curve {
		w.U32(v)
	}
	return codec.Seal(w.B)
}

func decodeBroadcastStats(v []byte) (BroadcastStats, error) {
	body, err := codec.Open(v)
	if err != nil {
		return BroadcastStats{}, err
	}
	r := codec.NewReader(body)
	st := BroadcastStats{Account: r.U32(), TimeMillis: r.U64()}
	flags := r.U8()
	st.Preview, st.Direct = flags&1 != 0, flags&2 != 0
	st.NotSelected, st.Blocked, st.Delivered, st.CaughtUp, st.Opened = r.U32(), r.U32(), r.U32(), r.U32(), r.U32()
	for i := range st.Curve {
		st.Curve[i] = r.U32()
	}
	if flags&^3 != 0 {
		return BroadcastStats{}, fmt.Errorf("%w: broadcast stats flags %#x", codec.ErrCorrupt, flags)
	}
	return st, r.Finish("broadcast stats")
}

// AddBroadcastStats stores a new broadcast's analytics and, unless it is
// direct (a notification or a reply) or a preview, counts it and its
// recipients in the day's figures of its account and of the server, all
// in the batch that adds the broadcast (which lists it among its account's
// broadcasts).
func (b *Batch) AddBroadcastStats(id uint64, recipients uint32, st BroadcastStats) error {
	if err := b.set(broadcastKeyWith(prefixBcastStats, id), encodeBroadcastStats(st)); err != nil {
		return err
	}
	if st.Direct || st.Preview {
		return nil
	}
	day := uint32(st.TimeMillis / 86_400_000)
	for _, account := range []uint32{st.Account, 0} {
		if err := addPair(b.batch, b.batch, dayKey(prefixPublished, account, day), 1, uint64(recipients)); err != nil {
			return err
		}
	}
	return nil
}

// addPair adds to the counter pair at key, read from r and written to w.
func addPair(r pebble.Reader, w *pebble.Batch, key []byte, a, b uint64) error {
	var x, y uint64
	if _, err := get(r, key, func(v []byte) (err error) {
		x, y, err = codec.DecodePair(v)
		return corrupt(key, err)
	}); err != nil {
		return err
	}
	return w.Set(key, codec.EncodePair(x+a, y+b), nil)
}

// BroadcastStats returns broadcast id's analytics; found is false for a
// broadcast not retained (or stored before analytics were kept).
func (s *Store) BroadcastStats(id uint64) (st BroadcastStats, found bool, err error) {
	key := broadcastKeyWith(prefixBcastStats, id)
	found, err = get(s.db, key, func(v []byte) (err error) {
		st, err = decodeBroadcastStats(v)
		return corrupt(key, err)
	})
	return st, found, err
}

// Delivery is what one flush of acknowledgements adds to a broadcast.
type Delivery struct {
	Delivered, CaughtUp uint32
	Curve               [CurvePoints]uint32
}

// Opening is one user's OPENED of one broadcast.
type Opening struct {
	Message uint64
	User    uint32
}

// Acknowledgements are cursors to save with what they delivered and the
// openings that arrived meanwhile: one batch, so a delivery is counted
// exactly when its cursor is stored, across any crash.
type Acknowledgements struct {
	Cursors    map[uint32]uint64
	Deliveries map[uint64]Delivery
	Openings   []Opening
}

// SaveAcknowledgements stores acks in one batch, without fsync: a crash
// may lose the last ones, and then both the cursors and what they counted,
// so the client's acknowledging again counts them once. An opening counts
// once per user and broadcast, only for a user in the broadcast's
// audience; an opening or delivery of a broadcast no longer retained is
// dropped. It must not run concurrently with itself.
func (s *Store) SaveAcknowledgements(acks Acknowledgements) error {
	if len(acks.Cursors) == 0 && len(acks.Deliveries) == 0 && len(acks.Openings) == 0 {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	b := s.db.NewBatch()
	defer b.Close()
	for user, c := range acks.Cursors {
		if err := b.Set(cursorKey(user), codec.EncodeU64(c), nil); err != nil {
			return err
		}
	}
	opened := make(map[uint64]uint32)
	seen := make(map[Opening]bool, len(acks.Openings))
	for _, o := range acks.Openings {
		if seen[o] || o.Message <= s.floor.Load() {
			continue
		}
		seen[o] = true
		key := openedKey(o.Message, o.User)
		already, err := get(s.db, key, func([]byte) error { return nil })
		if err != nil {
			return err
		}
		if already {
			continue
		}
		in, err := s.inAudience(o.Message, o.User)
		if err != nil {
			return err
		}
		if !in {
			continue
		}
		if err := b.Set(key, nil, nil); err != nil {
			return err
		}
		opened[o.Message]++
	}
	ids := make(map[uint64]bool, len(acks.Deliveries)+len(opened))
	for id := range acks.Deliveries {
		ids[id] = true
	}
	for id := range opened {
		ids[id] = true
	}
	days := make(map[accountDay][2]uint64)
	for id := range ids {
		key := broadcastKeyWith(prefixBcastStats, id)
		st, found, err := s.BroadcastStats(id)
		if err != nil {
			return err
		}
		if !found || id <= s.floor.Load() {
			continue
		}
		d := acks.Deliveries[id]
		st.Delivered += d.Delivered
		st.CaughtUp += d.CaughtUp
		st.Opened += opened[id]
		for i := range st.Curve {
			st.Curve[i] += d.Curve[i]
		}
		if err := b.Set(key, encodeBroadcastStats(st), nil); err != nil {
			return err
		}
		if st.Preview || st.Direct {
			continue
		}
		day := uint32(st.TimeMillis / 86_400_000)
		for _, account := range []uint32{st.Account, 0} {
			k := accountDay{account, day}
			p := days[k]
			days[k] = [2]uint64{p[0] + uint64(d.Delivered), p[1] + uint64(opened[id])}
		}
	}
	for k, p := range days {
		if err := addPair(s.db, b, dayKey(prefixDelivered, k.account, k.day), p[0], p[1]); err != nil {
			return err
		}
	}
	return s.commit(b, false, false)
}

type accountDay struct{ account, day uint32 }

// AccountBroadcasts returns the ids of up to limit of the account's
// retained broadcasts below before (0: from the newest), newest first.
func (s *Store) AccountBroadcasts(account uint32, before uint64, limit int) ([]uint64, error) {
	upper := prefixEnd(u32Key(prefixAccountLog, account))
	if before != 0 {
		upper = accountLogKey(account, before)
	}
	lower := accountLogKey(account, s.floor.Load()+1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var ids []uint64
	for valid := it.Last(); valid && len(ids) < limit; valid = it.Prev() {
		key := it.Key()
		if len(key) != 13 {
			return nil, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		ids = append(ids, binary.BigEndian.Uint64(key[5:]))
	}
	return ids, it.Error()
}

// BroadcastDay is one day of an account's (or, for account 0, the
// server's) broadcasts: those published that day, their recipients, and
// how many of those recipients were delivered and opened them so far.
type BroadcastDay struct {
	Day               uint32
	Broadcasts        uint64
	Recipients        uint64
	Delivered, Opened uint64
}

// BroadcastDays returns the account's days from from through to that had
// a broadcast, in day order; account 0 is the server's.
func (s *Store) BroadcastDays(account, from, to uint32) ([]BroadcastDay, error) {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	var days []BroadcastDay
	err := eachPair(snap, prefixPublished, account, from, to, func(day uint32, a, b uint64) {
		days = append(days, BroadcastDay{Day: day, Broadcasts: a, Recipients: b})
	})
	if err != nil {
		return nil, err
	}
	i := 0
	err = eachPair(snap, prefixDelivered, account, from, to, func(day uint32, a, b uint64) {
		for i < len(days) && days[i].Day < day {
			i++
		}
		if i < len(days) && days[i].Day == day {
			days[i].Delivered, days[i].Opened = a, b
		}
	})
	return days, err
}

// eachPair calls fn for each counter pair of account's days from..to
// under prefix, in day order.
func eachPair(r pebble.Reader, prefix byte, account, from, to uint32, fn func(day uint32, a, b uint64)) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: dayKey(prefix, account, from), UpperBound: prefixEnd(dayKey(prefix, account, to))})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if len(key) != 9 {
			return fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		a, b, err := codec.DecodePair(v)
		if err != nil {
			return corrupt(key, err)
		}
		fn(binary.BigEndian.Uint32(key[5:]), a, b)
	}
	return it.Error()
}
