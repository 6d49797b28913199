package server

import "testing"

// TestSplitMakesExactNodes: frames over splitMin become power-of-two
// pieces and a tail, together the same bytes; the charge is what list
// nodes copying them allocate.
func TestSplitMakesExactNodes(t *testing.T) {
	frame := make([]byte, 64<<10+30)
	for i := range frame {
		frame[i] = byte(i)
	}
	small := make([]byte, 300)
	pieces, charge := split(nil, [][]byte{small, frame})
	if len(pieces) != 3 || len(pieces[1]) != 64<<10 || len(pieces[2]) != 30 {
		t.Fatalf("pieces of %d: %d", len(frame), len(pieces))
	}
	var joined []byte
	for _, p := range pieces[1:] {
		joined = append(joined, p...)
	}
	if string(joined) != string(frame) {
		t.Fatal("pieces do not make up the frame")
	}
	if want := (512 + nodeOverhead) + (64<<10 + nodeOverhead) + (32 + nodeOverhead); charge != want {
		t.Fatalf("charge %d, want %d", charge, want)
	}
}

// TestOutboundEstimatesHeldMemory: what is still buffered is charged at
// the rate of what was queued since the buffer was empty.
func TestOutboundEstimatesHeldMemory(t *testing.T) {
	var o outbound
	if o.held(0) != 0 {
		t.Fatal("empty buffer holds memory")
	}
	o.queued(1000, 1000, 2000) // small frames: nodes twice their bytes
	if got := o.held(500); got != 1000 {
		t.Fatalf("held(500) = %d, want 1000", got)
	}
	if o.held(0); o.bytes != 0 || o.charged != 0 {
		t.Fatal("an empty buffer does not reset the account")
	}
}
