package server

import (
	"testing"

	"github.com/gobwas/ws"

	"herald/wire"
)

// BenchmarkWebSocketDeliveryFraming is what a WebSocket connection adds to
// a live delivery before the writev: the message's header, computed for
// the write, in front of the shared PUSH frames (split as for any
// connection). TCP is the same without the header.
func BenchmarkWebSocketDeliveryFraming(b *testing.B) {
	push := wire.AppendPush(nil, wire.Push{MessageID: 1, Account: 1, Payload: make([]byte, 256)})
	for _, tc := range []struct {
		name string
		ws   bool
	}{{"tcp", false}, {"websocket", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var w wsWriter
			frames := [][]byte{push}
			pieces := make([][]byte, 0, 8)
			b.ReportAllocs()
			for b.Loop() {
				p, extra := pieces[:0], 0
				if tc.ws {
					header := w.header(ws.OpBinary, len(push))
					p, extra = append(p, header), cost(len(header))
				}
				p, charge := split(p, frames)
				if charge+extra == 0 || len(p) == 0 {
					b.Fatal("nothing to write")
				}
			}
		})
	}
}
