package fanout

import "time"

// retain removes broadcasts older than the retention period, every
// RetentionSweep, until Close.
func (e *Engine) retain() {
	t := time.NewTicker(e.cfg.RetentionSweep)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if _, err := e.sweep(); err != nil {
				e.cfg.Logger.Error("retention sweep", "error", err)
			}
		case <-e.stop:
			return
		}
	}
}

// sweep removes the broadcasts, the letters and the done scheduled
// broadcasts older than the retention period now and returns how many broadcasts it removed. Calls must not
// overlap: the sweeper makes them, and tests only on an engine whose
// sweeper is idle.
func (e *Engine) sweep() (int, error) {
	cutoff := uint64(max(e.cfg.Now().Add(-e.cfg.Retention).UnixMilli(), 0))
	n, err := e.store.Retain(cutoff)
	if err != nil {
		return n, err
	}
	if _, err = e.store.RetainLetters(cutoff); err != nil {
		return n, err
	}
	_, err = e.store.RetainSchedules(cutoff)
	return n, err
}
