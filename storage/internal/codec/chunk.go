package codec

import (
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"
)

// EncodeChunk seals one chunk: a bitmap whose members all share the chunk's
// high 16 bits, so it is a single Roaring container. Keeping full 32-bit
// members lets a whole set be rebuilt by OR-ing chunks container by
// container, without touching individual members.
func EncodeChunk(chunk *roaring.Bitmap) ([]byte, error) {
	chunk.RunOptimize()
	body, err := chunk.ToBytes()
	if err != nil {
		return nil, err
	}
	return Seal(body), nil
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
