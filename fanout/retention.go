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

// sweep removes the broadcasts older than the retention period now and
// returns how many it removed. Calls must not overlap: the sweeper makes
// them, and tests only on an engine whose sweeper is idle.
func (e *Engine) sweep() (int, error) {
	cutoff := e.cfg.Now().Add(-e.cfg.Retention)
	return e.store.Retain(uint64(max(cutoff.UnixMilli(), 0)))
}
