package storage

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// FuzzDecodeChunk: any bytes, sealed or not, decode to a valid chunk or an
// ErrCorrupt; never a panic and never a member outside the chunk.
func FuzzDecodeChunk(f *testing.F) {
	good, _ := encodeChunk(roaring.BitmapOf(1, 2, 3, 60000))
	f.Add(good, false)
	f.Add(good[1:len(good)-4], true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, sealIt bool) {
		if sealIt {
			data = seal(data)
		}
		key := followerChunkKey(1, 0)
		bm, err := decodeChunk(key, data, 0)
		if err == nil && bm.Maximum() > 0xffff {
			t.Fatalf("member %d outside chunk 0", bm.Maximum())
		}
	})
}

// FuzzDecodeRecords covers the account, broadcast and counter decoders.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(encodeAccount(Account{Name: "n", Tier: TierService})[1:])
	f.Add(encodeBroadcast(Broadcast{Account: 1, ContentType: "t", Payload: []byte("p")})[1:])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, body []byte) {
		v := seal(body)
		_, _ = decodeAccount(accountKey(1), v, 1)
		_, _ = decodeBroadcast(broadcastKey(1), v, 1)
		_, _ = decodeU64(cursorKey(1), v)
		_, _ = decodeAccount(accountKey(1), body, 1)
	})
}
