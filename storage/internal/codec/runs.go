package codec

import "fmt"

// Run gives Value to every chunk from First to Last (high 16 bits,
// inclusive). Runs describe a frozen audience by reference: its manifest
// says which chunks it has and whose stored chunk each one is (Value: the
// origin message), and an origin's uses say, per chunk, the newest message
// whose audience refers to it (Value: that message).
type Run struct {
	First, Last uint16
	Value       uint64
}

// EncodeRuns seals runs, which must be in order and disjoint.
func EncodeRuns(runs []Run) []byte {
	w := Writer{B: make([]byte, 0, 4+12*len(runs))}
	w.U32(uint32(len(runs)))
	for _, r := range runs {
		w.U16(r.First)
		w.U16(r.Last)
		w.U64(r.Value)
	}
	return Seal(w.B)
}

// DecodeRuns checks and decodes a value sealed by EncodeRuns: runs in
// order, disjoint, each with First <= Last.
func DecodeRuns(v []byte) ([]Run, error) {
	body, err := Open(v)
	if err != nil {
		return nil, err
	}
	r := NewReader(body)
	n := r.U32()
	if r.Short() || uint64(n)*12 != uint64(r.Len()) {
		return nil, fmt.Errorf("%w: bad runs record", ErrCorrupt)
	}
	runs := make([]Run, n)
	for i := range runs {
		first, last := r.U16(), r.U16()
		runs[i] = Run{First: first, Last: last, Value: r.U64()}
		if first > last || i > 0 && first <= runs[i-1].Last {
			return nil, fmt.Errorf("%w: runs out of order", ErrCorrupt)
		}
	}
	return runs, r.Finish("runs")
}
