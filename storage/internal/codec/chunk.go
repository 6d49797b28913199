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
func DecodeChunk(v []byte, high uint16) (*roaring.Bitmap, error) {
	return decodeChunk(v, high, true)
}

// DecodeChunkView is DecodeChunk without copying v: the bitmap refers to v
// and is valid only while v is. Reading a whole set ORs each chunk into
// the result, which copies its container, so a second copy is waste.
func DecodeChunkView(v []byte, high uint16) (*roaring.Bitmap, error) {
	return decodeChunk(v, high, false)
}

func decodeChunk(v []byte, high uint16, copied bool) (bm *roaring.Bitmap, err error) {
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
	if copied {
		body = append([]byte(nil), body...)
	}
	n, err := bm.FromBuffer(body)
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
