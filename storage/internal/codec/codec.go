// Package codec encodes and checks every value Herald stores. It imports
// no storage engine, so its decoders are fuzzed quickly and in isolation.
//
// Every value is framed as
//
//	version u8 | body | crc32c u32 (over version and body)
//
// and Open rejects a value whose checksum or version is wrong. Decoders
// return errors wrapping ErrCorrupt and never panic.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"herald/internal/binread"
)

// ErrCorrupt: a stored value failed its checksum or does not decode.
var ErrCorrupt = errors.New("storage: corrupt value")

// Version is the value format version.
const Version = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Seal frames body as version | body | crc32c.
func Seal(body []byte) []byte {
	out := make([]byte, 0, len(body)+5)
	out = append(out, Version)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// Open checks a sealed value and returns its body, a view into v.
func Open(v []byte) ([]byte, error) {
	if len(v) < 5 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(v))
	}
	n := len(v) - 4
	if crc32.Checksum(v[:n], castagnoli) != binary.BigEndian.Uint32(v[n:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if v[0] != Version {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, v[0])
	}
	return v[1:n], nil
}

// Writer builds a record body.
type Writer struct{ B []byte }

func (w *Writer) U8(v uint8)   { w.B = append(w.B, v) }
func (w *Writer) U16(v uint16) { w.B = binary.BigEndian.AppendUint16(w.B, v) }
func (w *Writer) U32(v uint32) { w.B = binary.BigEndian.AppendUint32(w.B, v) }
func (w *Writer) U64(v uint64) { w.B = binary.BigEndian.AppendUint64(w.B, v) }

// Str appends a string with a two-byte length; callers bound its length.
func (w *Writer) Str(s string) {
	w.B = binary.BigEndian.AppendUint16(w.B, uint16(len(s)))
	w.B = append(w.B, s...)
}

// Raw appends bytes with no length (a fixed-size field or the tail).
func (w *Writer) Raw(p []byte) { w.B = append(w.B, p...) }

// Reader parses a record body, remembering the first shortfall.
type Reader struct{ binread.Reader }

// NewReader reads body.
func NewReader(body []byte) *Reader { return &Reader{Reader: *binread.New(body)} }

// Str reads a string written by Writer.Str.
func (r *Reader) Str() string { return r.Str16(1 << 16) }

// Rest returns a copy of every remaining byte.
func (r *Reader) Rest() []byte { return append([]byte(nil), r.Reader.Rest()...) }

// Finish reports a short body or trailing bytes as ErrCorrupt.
func (r *Reader) Finish(what string) error {
	if !r.OK() {
		return fmt.Errorf("%w: bad %s record", ErrCorrupt, what)
	}
	return nil
}

// EncodeU64 seals a counter or cursor.
func EncodeU64(v uint64) []byte { return Seal(binary.BigEndian.AppendUint64(nil, v)) }

// DecodeU64 checks and decodes a sealed counter or cursor.
func DecodeU64(v []byte) (uint64, error) {
	body, err := Open(v)
	if err != nil {
		return 0, err
	}
	r := NewReader(body)
	n := r.U64()
	return n, r.Finish("counter")
}

// EncodePair seals two counters (a day's follows and unfollows).
func EncodePair(a, b uint64) []byte {
	return Seal(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, a), b))
}

// DecodePair checks and decodes a value sealed by EncodePair.
func DecodePair(v []byte) (a, b uint64, err error) {
	body, err := Open(v)
	if err != nil {
		return 0, 0, err
	}
	r := NewReader(body)
	a, b = r.U64(), r.U64()
	return a, b, r.Finish("counter pair")
}

// EncodeU32 seals one uint32 (a tag id in the tag name index).
func EncodeU32(v uint32) []byte { return Seal(binary.BigEndian.AppendUint32(nil, v)) }

// DecodeU32 checks and decodes a value sealed by EncodeU32.
func DecodeU32(v []byte) (uint32, error) {
	body, err := Open(v)
	if err != nil {
		return 0, err
	}
	r := NewReader(body)
	n := r.U32()
	return n, r.Finish("u32")
}
