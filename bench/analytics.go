package bench

import (
	"context"
	"fmt"
	"io"
)

// AnalyticsResult is Herald's bursts with its analytics off and on, to
// clients that acknowledge every read as an SDK would, one after the
// other in one run: what counting each broadcast's reach costs.
type AnalyticsResult struct {
	Config  BurstConfig
	Off, On Side
}

// RunAnalyticsBurst measures bursts as RunBurst does, with Herald on both
// sides and acknowledging clients: first `herald serve --analytics=false`
// (cursors only), then the default (each acknowledgement also counted in
// the broadcasts' reach).
func RunAnalyticsBurst(ctx context.Context, cfg BurstConfig, progress io.Writer) (*AnalyticsResult, error) {
	cfg.fill()
	total := cfg.Warmup + cfg.Broadcasts
	res := &AnalyticsResult{Config: cfg}
	with := func(flags ...string) func() (*rig, error) {
		return func() (*rig, error) {
			return heraldRigOver(ctx, cfg.Clients, cfg.Clients, total, cfg.Payload, cfg.Wrapper, cfg.InMemory, heraldOptions{ack: true, flags: flags})
		}
	}
	var err error
	res.Off, res.On, err = twoSides(progress, fmt.Sprintf("analytics, %d clients", cfg.Clients), [2]string{"Herald, analytics off", "Herald, analytics on"},
		with("--analytics=false"), with(), func(r *rig) (Side, error) { return runBursts(r, cfg) })
	return res, err
}
