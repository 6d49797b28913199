package bench

import (
	"context"
	"fmt"
	"io"
)

// WebSocketResult is Herald's bursts to the same clients over TCP and over
// WebSocket (the client listener's port, binary messages), one after the
// other in one run.
type WebSocketResult struct {
	Config  BurstConfig
	TCP, WS Side
}

// RunWebSocketBurst measures bursts as RunBurst does, with Herald on both
// sides: its clients over TCP, then over WebSocket (each a raw client of
// the protocol; the WebSocket ones through github.com/coder/websocket).
func RunWebSocketBurst(ctx context.Context, cfg BurstConfig, progress io.Writer) (*WebSocketResult, error) {
	cfg.fill()
	total := cfg.Warmup + cfg.Broadcasts
	res := &WebSocketResult{Config: cfg}
	over := func(ws bool) func() (*rig, error) {
		return func() (*rig, error) {
			return heraldRigOver(ctx, cfg.Clients, cfg.Clients, total, cfg.Payload, cfg.Wrapper, cfg.InMemory, heraldOptions{ws: ws})
		}
	}
	var err error
	res.TCP, res.WS, err = twoSides(progress, fmt.Sprintf("websocket, %d clients", cfg.Clients), [2]string{"Herald over TCP", "Herald over WebSocket"}, over(false), over(true),
		func(r *rig) (Side, error) { return runBursts(r, cfg) })
	return res, err
}
