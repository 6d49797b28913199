package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/internal/binread"
	"herald/wire"
)

// Every message on the bus is binary, big-endian, and starts with the bus
// version; what follows depends on the subject (see bus.go). Strings carry
// a one- or two-byte length, byte strings and lists a four-byte count.
const busVersion = 2

// ErrMalformed: a bus message that does not decode. It is refused and
// counted, never acted on.
var ErrMalformed = errors.New("malformed bus message")

// enc appends fields to a message.
type enc struct{ b []byte }

func newEnc(capacity int) *enc {
	e := &enc{b: make([]byte, 0, capacity+1)}
	e.b = append(e.b, busVersion)
	return e
}

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) i64(v int64)  { e.u64(uint64(v)) }

func (e *enc) flag(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// str writes a string of at most 65,535 bytes (longer ones are cut; no
// caller has one).
func (e *enc) str(s string) {
	if len(s) > math.MaxUint16 {
		s = s[:math.MaxUint16]
	}
	e.u16(uint16(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) bytes(v []byte) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}

func (e *enc) u32s(v []uint32) {
	e.u32(uint32(len(v)))
	for _, x := range v {
		e.u32(x)
	}
}

// cursor writes a count byte and the ids.
func (e *enc) cursor(c wire.Cursor) {
	e.u8(uint8(len(c)))
	for _, id := range c {
		e.u64(id)
	}
}

func (e *enc) bitmap(bm *roaring.Bitmap) {
	if bm == nil {
		bm = roaring.New()
	}
	at := len(e.b)
	e.u32(0)
	var err error
	if e.b, err = appendBitmap(e.b, bm); err != nil {
		panic(err) // writing to memory does not fail
	}
	binary.BigEndian.PutUint32(e.b[at:], uint32(len(e.b)-at-4))
}

func appendBitmap(dst []byte, bm *roaring.Bitmap) ([]byte, error) {
	w := sliceWriter{dst}
	_, err := bm.WriteTo(&w)
	return w.b, err
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// dec reads fields; check reports the first shortfall or leftover.
type dec struct{ r *binread.Reader }

// newDec checks the version and reads the rest.
func newDec(msg []byte) (*dec, error) {
	if len(msg) == 0 || msg[0] != busVersion {
		return nil, fmt.Errorf("%w: not bus version %d", ErrMalformed, busVersion)
	}
	return &dec{binread.New(msg[1:])}, nil
}

func (d *dec) u8() uint8   { return d.r.U8() }
func (d *dec) u16() uint16 { return d.r.U16() }
func (d *dec) u32() uint32 { return d.r.U32() }
func (d *dec) u64() uint64 { return d.r.U64() }
func (d *dec) i64() int64  { return int64(d.r.U64()) }
func (d *dec) flag() bool {
	v := d.r.U8()
	if v > 1 {
		d.r.Fail()
	}
	return v == 1
}
func (d *dec) str() string { return d.r.Str16(math.MaxUint16) }

// bytes returns a view of the message; callers that keep it copy it.
func (d *dec) bytes() []byte {
	n := d.r.U32()
	if int64(n) > int64(d.r.Len()) {
		d.r.Fail()
		return nil
	}
	return d.r.Take(int(n))
}

// ownBytes is bytes copied out of the message (nil for none).
func (d *dec) ownBytes() []byte {
	v := d.bytes()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *dec) u32s() []uint32 {
	n := d.r.U32()
	if int64(n)*4 > int64(d.r.Len()) {
		d.r.Fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = d.r.U32()
	}
	return out
}

// cursor decodes what enc.cursor wrote; a cursor that breaks its rules
// (wire.Cursor.Check) fails the message.
func (d *dec) cursor() wire.Cursor {
	n := int(d.u8())
	if n > wire.MaxShards || d.r.Len() < 8*n {
		d.r.Fail()
		return nil
	}
	var c wire.Cursor
	for range n {
		c = append(c, d.u64())
	}
	if c.Check() != nil {
		d.r.Fail()
	}
	return c
}

// bitmap decodes a roaring bitmap; one that does not decode or validate
// fails the message.
func (d *dec) bitmap() *roaring.Bitmap {
	v := d.bytes()
	if d.r.Short() {
		return nil
	}
	bm, err := decodeBitmap(v)
	if err != nil {
		d.r.Fail()
		return nil
	}
	return bm
}

func decodeBitmap(v []byte) (bm *roaring.Bitmap, err error) {
	defer func() {
		if r := recover(); r != nil {
			bm, err = nil, fmt.Errorf("bitmap decode panicked: %v", r)
		}
	}()
	bm = roaring.New()
	n, err := bm.FromBuffer(append([]byte(nil), v...))
	if err != nil {
		return nil, err
	}
	if n != int64(len(v)) {
		return nil, fmt.Errorf("%d trailing bytes", int64(len(v))-n)
	}
	if err := bm.Validate(); err != nil {
		return nil, err
	}
	return bm, nil
}

// check reports whether every field was whole and nothing is left over.
func (d *dec) check(what string) error {
	if !d.r.OK() {
		return fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	return nil
}
