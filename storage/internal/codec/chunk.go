package codec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/RoaringBitmap/roaring/v2"
)

// EncodeChunk seals one chunk: a bitmap whose members all share the chunk's
// high 16 bits, so it is a single Roaring container. Keeping full 32-bit
// members lets a whole set be rebuilt by OR-ing chunks container by
// container, without touching individual members.
func EncodeChunk(chunk *roaring.Bitmap) ([]byte, error) {
	v := make([]byte, ChunkSize(chunk))
	if err := SealChunk(v, chunk); err != nil {
		return nil, err
	}
	return v, nil
}

// ChunkSize is the length of chunk's sealed value. It run-optimizes chunk
// first (as EncodeChunk does), so a SealChunk after it, with nothing
// changed between, fills exactly that many bytes.
func ChunkSize(chunk *roaring.Bitmap) int {
	chunk.RunOptimize()
	return 1 + int(chunk.GetSerializedSizeInBytes()) + 4
}

// SealChunk writes chunk's sealed value into v, which must be
// ChunkSize(chunk) bytes: the value is built where it is stored (a Pebble
// batch's deferred record) without a copy between.
func SealChunk(v []byte, chunk *roaring.Bitmap) error {
	if len(v) < 5 {
		return fmt.Errorf("codec: %d bytes for a sealed chunk", len(v))
	}
	v[0] = Version
	body := fixedWriter{b: v[1 : len(v)-4]}
	if _, err := chunk.WriteTo(&body); err != nil {
		return err
	}
	if body.n != len(body.b) {
		return fmt.Errorf("codec: chunk wrote %d of %d bytes", body.n, len(body.b))
	}
	n := len(v) - 4
	binary.BigEndian.PutUint32(v[n:], crc32.Checksum(v[:n], castagnoli))
	return nil
}

// fixedWriter fills b and refuses to go past it.
type fixedWriter struct {
	b []byte
	n int
}

func (w *fixedWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b)-w.n {
		return 0, fmt.Errorf("codec: chunk longer than its %d bytes", len(w.b))
	}
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}

// DecodeChunk checks and decodes a chunk whose members must all have the
// given high 16 bits.
func DecodeChunk(v []byte, high uint16) (bm *roaring.Bitmap, err error) {
	body, err := Open(v)
	if err != nil {
		return nil, err
	}
	// The checksum matched, so a failure here means a bug or a forged value;
	// roaring must still not take the process down.
	defer func() {
		if r := recover(); r != nil {
			bm, err = nil, fmt.Errorf("%w: bitmap decode panicked: %v", ErrCorrupt, r)
		}
	}()
	bm = roaring.New()
	n, err := bm.FromBuffer(append([]byte(nil), body...))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if n != int64(len(body)) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, int64(len(body))-n)
	}
	if err := bm.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if bm.IsEmpty() {
		return nil, fmt.Errorf("%w: empty chunk", ErrCorrupt)
	}
	if bm.Minimum()>>16 != uint32(high) || bm.Maximum()>>16 != uint32(high) {
		return nil, fmt.Errorf("%w: member outside chunk %d", ErrCorrupt, high)
	}
	return bm, nil
}
