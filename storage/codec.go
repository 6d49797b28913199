package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/RoaringBitmap/roaring/v2"
)

const valueVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal frames body as version | body | crc32c.
func seal(body []byte) []byte {
	out := make([]byte, 0, len(body)+5)
	out = append(out, valueVersion)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// open checks a sealed value and returns its body, a view into v.
func open(key, v []byte) ([]byte, error) {
	if len(v) < 5 {
		return nil, fmt.Errorf("%w: %s: %d bytes", ErrCorrupt, keyString(key), len(v))
	}
	n := len(v) - 4
	if crc32.Checksum(v[:n], castagnoli) != binary.BigEndian.Uint32(v[n:]) {
		return nil, fmt.Errorf("%w: %s: checksum mismatch", ErrCorrupt, keyString(key))
	}
	if v[0] != valueVersion {
		return nil, fmt.Errorf("%w: %s: unknown version %d", ErrCorrupt, keyString(key), v[0])
	}
	return v[1:n], nil
}

// encodeChunk serialises one chunk: a bitmap whose members all share the
// chunk's high 16 bits, so it is a single Roaring container. Keeping full
// 32-bit members lets a whole set be rebuilt by OR-ing chunks container by
// container, without touching individual members.
func encodeChunk(chunk *roaring.Bitmap) ([]byte, error) {
	chunk.RunOptimize()
	body, err := chunk.ToBytes()
	if err != nil {
		return nil, err
	}
	return seal(body), nil
}

// decodeChunk checks and decodes a chunk value stored under key, whose
// members must all have the given high 16 bits.
func decodeChunk(key, v []byte, high uint16) (bm *roaring.Bitmap, err error) {
	body, err := open(key, v)
	if err != nil {
		return nil, err
	}
	// The checksum matched, so a failure here means a bug or a forged value;
	// roaring must still not take the process down.
	defer func() {
		if r := recover(); r != nil {
			bm, err = nil, fmt.Errorf("%w: %s: bitmap decode panicked: %v", ErrCorrupt, keyString(key), r)
		}
	}()
	bm = roaring.New()
	n, err := bm.FromBuffer(append([]byte(nil), body...))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, keyString(key), err)
	}
	if n != int64(len(body)) {
		return nil, fmt.Errorf("%w: %s: %d trailing bytes", ErrCorrupt, keyString(key), int64(len(body))-n)
	}
	if err := bm.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, keyString(key), err)
	}
	if bm.IsEmpty() {
		return nil, fmt.Errorf("%w: %s: empty chunk", ErrCorrupt, keyString(key))
	}
	if bm.Minimum()>>16 != uint32(high) || bm.Maximum()>>16 != uint32(high) {
		return nil, fmt.Errorf("%w: %s: member outside chunk %d", ErrCorrupt, keyString(key), high)
	}
	return bm, nil
}

// recordWriter and recordReader build and parse record bodies.
type recordWriter struct{ b []byte }

func (w *recordWriter) u8(v uint8)   { w.b = append(w.b, v) }
func (w *recordWriter) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *recordWriter) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *recordWriter) str(s string) {
	w.b = binary.BigEndian.AppendUint16(w.b, uint16(len(s)))
	w.b = append(w.b, s...)
}
func (w *recordWriter) raw(p []byte) { w.b = append(w.b, p...) }

type recordReader struct {
	b   []byte
	bad bool
}

func (r *recordReader) take(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *recordReader) u8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *recordReader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *recordReader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *recordReader) str() string {
	v := r.take(2)
	if v == nil {
		return ""
	}
	return string(r.take(int(binary.BigEndian.Uint16(v))))
}

func (r *recordReader) rest() []byte {
	v := append([]byte(nil), r.b...)
	r.b = nil
	return v
}

// finish returns an ErrCorrupt naming key if the body was short or long.
func (r *recordReader) finish(key []byte, what string) error {
	if r.bad || len(r.b) != 0 {
		return fmt.Errorf("%w: %s: bad %s record", ErrCorrupt, keyString(key), what)
	}
	return nil
}

// encodeU64 and decodeU64 store counters and cursors.
func encodeU64(v uint64) []byte { return seal(binary.BigEndian.AppendUint64(nil, v)) }

func decodeU64(key, v []byte) (uint64, error) {
	body, err := open(key, v)
	if err != nil {
		return 0, err
	}
	r := recordReader{b: body}
	n := r.u64()
	return n, r.finish(key, "counter")
}
