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
			if _, err := e.Sweep(); err != nil {
				e.cfg.Logger.Error("retention sweep", "error", err)
			}
		case <-e.stop:
			return
		}
	}
}

// Sweep removes the broadcasts older than the retention period now and
// returns how many it removed. The engine calls it periodically; calls must
// not overlap, so call it only on an engine whose sweeper is idle (tests).
func (e *Engine) Sweep() (int, error) {
	cutoff := e.cfg.Now().Add(-e.cfg.Retention)
	return e.store.Retain(uint64(max(cutoff.UnixMilli(), 0)))
}
