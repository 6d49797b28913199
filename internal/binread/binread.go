// Package binread reads big-endian fields from a byte slice, remembering the
// first shortfall so that a decoder checks once, at the end. The wire
// decoders and the storage value decoders share it.
package binread

import "encoding/binary"

// Reader reads fields from the front of a slice.
type Reader struct {
	b   []byte
	bad bool
}

// New reads body.
func New(body []byte) *Reader { return &Reader{b: body} }

// Take returns the next n bytes (a view), or nil on a shortfall.
func (r *Reader) Take(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *Reader) U8() uint8 {
	if v := r.Take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *Reader) U16() uint16 {
	if v := r.Take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *Reader) U32() uint32 {
	if v := r.Take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *Reader) U64() uint64 {
	if v := r.Take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Str8 reads a string with a one-byte length of at most limit.
func (r *Reader) Str8(limit int) string { return r.str(int(r.U8()), limit) }

// Str16 reads a string with a two-byte length of at most limit.
func (r *Reader) Str16(limit int) string { return r.str(int(r.U16()), limit) }

func (r *Reader) str(n, limit int) string {
	if n > limit {
		r.bad = true
		return ""
	}
	return string(r.Take(n))
}

// Rest returns every remaining byte, as a view.
func (r *Reader) Rest() []byte {
	v := r.b
	r.b = nil
	return v
}

// Fail marks the input bad (a field failed a caller's own check).
func (r *Reader) Fail() { r.bad = true }

// OK reports that no field fell short and no byte is left over.
func (r *Reader) OK() bool { return !r.bad && len(r.b) == 0 }

// Len returns how many bytes are left.
func (r *Reader) Len() int { return len(r.b) }

// Short reports that a field fell short or failed a check.
func (r *Reader) Short() bool { return r.bad }
