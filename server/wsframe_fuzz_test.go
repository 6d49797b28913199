package server

import (
	"bytes"
	"testing"
)

// FuzzWebSocketFrames: no input makes the WebSocket reader panic, and the
// same bytes read whole or cut at two points give the same Herald bytes,
// the same control frames and the same verdict.
func FuzzWebSocketFrames(f *testing.F) {
	masked := func(first byte, payload []byte) []byte {
		b := []byte{first, 0x80 | byte(len(payload)), 1, 2, 3, 4}
		for i, c := range payload {
			b = append(b, c^[]byte{1, 2, 3, 4}[i%4])
		}
		return b
	}
	f.Add(masked(0x82, []byte("herald frames")), uint16(3), uint16(9))
	f.Add(append(masked(0x02, []byte("frag")), append(masked(0x89, []byte("p")), masked(0x80, []byte("ment"))...)...), uint16(7), uint16(12))
	f.Add([]byte{0x82, 0xfe, 0x00, 0x80, 9, 9, 9, 9}, uint16(1), uint16(2))
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, uint16(4), uint16(11))
	f.Add(masked(0x88, []byte{0x03, 0xe8}), uint16(1), uint16(5))
	f.Fuzz(func(t *testing.T, input []byte, cutA, cutB uint16) {
		type result struct {
			herald   []byte
			controls []wsControl
			failed   bool
		}
		read := func(pieces ...[]byte) result {
			var r wsReader
			var out result
			for _, p := range pieces {
				h, c, err := r.feed(append([]byte(nil), p...))
				out.herald = append(out.herald, h...)
				out.controls = append(out.controls, c...)
				if err != nil {
					out.failed = true
					break
				}
			}
			return out
		}
		a := int(cutA) % (len(input) + 1)
		b := int(cutB) % (len(input) + 1)
		if a > b {
			a, b = b, a
		}
		whole, cut := read(input), read(input[:a], input[a:b], input[b:])
		if whole.failed != cut.failed || !bytes.Equal(whole.herald, cut.herald) || len(whole.controls) != len(cut.controls) {
			t.Fatalf("whole %+v, cut %+v", whole, cut)
		}
		for i := range whole.controls {
			if whole.controls[i].op != cut.controls[i].op || !bytes.Equal(whole.controls[i].payload, cut.controls[i].payload) {
				t.Fatalf("control %d: %+v vs %+v", i, whole.controls[i], cut.controls[i])
			}
		}
	})
}
