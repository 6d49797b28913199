package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"herald/storage/internal/codec"
)

// Schedule states.
const (
	SchedulePending uint8 = 0 // not sent yet
	ScheduleSent    uint8 = 1 // sent as MessageID
	ScheduleFailed  uint8 = 2 // refused at its time (Error says why)
)

// Schedule is a scheduled broadcast: when to send it, what became of it,
// and the publish to make then (its audience as a PUBLISH carries it).
type Schedule struct {
	Account      uint32
	ClientMsgID  string
	SendAtMillis uint64
	State        uint8
	MessageID    uint64
	Error        string
	TTLSeconds   uint32
	ContentType  string
	AudienceKind uint8
	Audience     []byte
	Payload      []byte
}

func encodeSchedule(sc Schedule) []byte {
	var w codec.Writer
	w.U64(sc.SendAtMillis)
	w.U8(sc.State)
	w.U64(sc.MessageID)
	w.Str(sc.Error)
	w.U32(sc.TTLSeconds)
	w.Str(sc.ContentType)
	w.U8(sc.AudienceKind)
	w.U32(uint32(len(sc.Audience)))
	w.Raw(sc.Audience)
	w.Raw(sc.Payload)
	return codec.Seal(w.B)
}

func decodeSchedule(v []byte, account uint32, clientMsgID string) (Schedule, error) {
	body, err := codec.Open(v)
	if err != nil {
		return Schedule{}, err
	}
	r := codec.NewReader(body)
	sc := Schedule{Account: account, ClientMsgID: clientMsgID, SendAtMillis: r.U64(), State: r.U8(), MessageID: r.U64(), Error: r.Str(),
		TTLSeconds: r.U32(), ContentType: r.Str(), AudienceKind: r.U8()}
	sc.Audience = append([]byte(nil), r.Take(int(r.U32()))...)
	sc.Payload = r.Rest()
	if sc.State > ScheduleFailed {
		return Schedule{}, fmt.Errorf("%w: schedule state %d", codec.ErrCorrupt, sc.State)
	}
	return sc, r.Finish("schedule")
}

// Schedule returns the account's scheduled broadcast of that
// client_msg_id; found is false if there is none.
func (x reads) Schedule(account uint32, clientMsgID string) (sc Schedule, found bool, err error) {
	key := scheduleKey(account, clientMsgID)
	found, err = get(x.r, key, func(v []byte) (err error) {
		sc, err = decodeSchedule(v, account, clientMsgID)
		return corrupt(key, err)
	})
	return sc, found, err
}

// PutSchedule stores a scheduled broadcast, in the order of those due
// while it is pending and out of it once sent or failed.
func (b *Batch) PutSchedule(sc Schedule) error {
	due := dueKey(sc.SendAtMillis, sc.Account, sc.ClientMsgID)
	var err error
	if sc.State == SchedulePending {
		err = b.set(due, nil)
	} else {
		err = b.batch.Delete(due, nil)
	}
	if err != nil {
		return err
	}
	return b.set(scheduleKey(sc.Account, sc.ClientMsgID), encodeSchedule(sc))
}

// DeleteSchedule removes a scheduled broadcast (a cancel).
func (b *Batch) DeleteSchedule(sc Schedule) error {
	if err := b.batch.Delete(dueKey(sc.SendAtMillis, sc.Account, sc.ClientMsgID), nil); err != nil {
		return err
	}
	return b.batch.Delete(scheduleKey(sc.Account, sc.ClientMsgID), nil)
}

// Due returns up to limit of the pending scheduled broadcasts, in the
// order they fall due.
func (s *Store) Due(limit int) ([]Schedule, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixDue}, UpperBound: []byte{prefixDue + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Schedule
	for valid := it.First(); valid && len(out) < limit; valid = it.Next() {
		key := it.Key()
		if len(key) < 14 {
			return nil, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		account, id := binary.BigEndian.Uint32(key[9:]), string(key[13:])
		sc, found, err := s.Schedule(account, id)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("%w: %s names no schedule", ErrCorrupt, keyString(key))
		}
		out = append(out, sc)
	}
	return out, it.Error()
}

// Schedules returns the account's scheduled broadcasts (pending, and sent
// or failed within retention) in client_msg_id order.
func (s *Store) Schedules(account uint32) ([]Schedule, error) {
	prefix := u32Key(prefixSchedule, account)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Schedule
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		sc, err := decodeSchedule(v, account, string(it.Key()[len(prefix):]))
		if err != nil {
			return nil, corrupt(it.Key(), err)
		}
		out = append(out, sc)
	}
	return out, it.Error()
}

// RetainSchedules removes the sent and failed scheduled broadcasts due
// before cutoffMillis and returns how many it removed.
func (s *Store) RetainSchedules(cutoffMillis uint64) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixSchedule}, UpperBound: []byte{prefixSchedule + 1}})
	if err != nil {
		return 0, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	removed := 0
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		if len(key) < 5 {
			it.Close()
			return 0, fmt.Errorf("%w: %s: key of %d bytes", ErrCorrupt, keyString(key), len(key))
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return 0, err
		}
		sc, err := decodeSchedule(v, binary.BigEndian.Uint32(key[1:]), string(key[5:]))
		if err != nil {
			it.Close()
			return 0, corrupt(key, err)
		}
		if sc.State != SchedulePending && sc.SendAtMillis < cutoffMillis {
			if err := b.Delete(key, nil); err != nil {
				it.Close()
				return 0, err
			}
			removed++
		}
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	if removed == 0 {
		return 0, nil
	}
	return removed, s.commit(b, true, false)
}
