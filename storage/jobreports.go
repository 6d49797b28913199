package storage

import "herald/storage/internal/codec"

// JobOutcome is what a broadcast's delivery achieved, as stored.
type JobOutcome struct {
	SentLive uint32
	Errors   uint32
}

// SaveJobOutcomes stores delivery outcomes. It does not fsync: an outcome
// lost in a crash reads back as an interrupted delivery, which it nearly is.
func (s *Store) SaveJobOutcomes(outcomes map[uint64]JobOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	if s.closed.Load() {
		return ErrClosed
	}
	b := s.db.NewBatch()
	defer b.Close()
	for id, o := range outcomes {
		var w codec.Writer
		w.U32(o.SentLive)
		w.U32(o.Errors)
		if err := b.Set(broadcastKeyWith(prefixJobReport, id), codec.Seal(w.B), nil); err != nil {
			return err
		}
	}
	return s.commit(b, false, false)
}

// JobOutcome returns the stored outcome of broadcast id, if any.
func (s *Store) JobOutcome(id uint64) (JobOutcome, bool, error) {
	key := broadcastKeyWith(prefixJobReport, id)
	var o JobOutcome
	found, err := get(s.db, key, func(v []byte) error {
		body, err := codec.Open(v)
		if err != nil {
			return corrupt(key, err)
		}
		r := codec.NewReader(body)
		o = JobOutcome{SentLive: r.U32(), Errors: r.U32()}
		return corrupt(key, r.Finish("job report"))
	})
	return o, found, err
}
