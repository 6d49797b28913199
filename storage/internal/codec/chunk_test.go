package codec

import (
	"bytes"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// TestSealChunkWritesWhatToBytesWould: a chunk of each container kind
// (array, bitmap, run) seals to the bytes Seal(ToBytes) gives and decodes
// back to itself; a buffer of the wrong size is refused, not overrun.
func TestSealChunkWritesWhatToBytesWould(t *testing.T) {
	array := roaring.BitmapOf(7<<16|1, 7<<16|9, 7<<16|60000)
	dense := roaring.New()
	for u := uint32(7 << 16); u < 8<<16; u += 2 {
		dense.Add(u)
	}
	full := roaring.New()
	full.AddRange(7<<16, 8<<16)
	for name, chunk := range map[string]*roaring.Bitmap{"array": array, "bitmap": dense, "run": full} {
		v, err := EncodeChunk(chunk)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, err := chunk.ToBytes()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v, Seal(body)) {
			t.Fatalf("%s: sealed %d bytes differ from Seal(ToBytes)'s %d", name, len(v), len(body)+5)
		}
		back, err := DecodeChunk(v, 7)
		if err != nil || !back.Equals(chunk) {
			t.Fatalf("%s: decoded %v, %v", name, back, err)
		}
		for _, n := range []int{len(v) - 1, len(v) + 1, 4} {
			if err := SealChunk(make([]byte, n), chunk); err == nil {
				t.Fatalf("%s: sealed into %d bytes (needs %d)", name, n, len(v))
			}
		}
	}
}
