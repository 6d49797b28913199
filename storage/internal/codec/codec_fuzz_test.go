package codec

import (
	"errors"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// FuzzDecodeChunk: any bytes, sealed or not, decode to a valid chunk or an
// ErrCorrupt; never a panic and never a member outside the chunk.
func FuzzDecodeChunk(f *testing.F) {
	good, _ := EncodeChunk(roaring.BitmapOf(1, 2, 3, 60000))
	f.Add(good, false)
	f.Add(good[1:len(good)-4], true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, sealIt bool) {
		if sealIt {
			data = Seal(data)
		}
		bm, err := DecodeChunk(data, 0)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if err == nil && bm.Maximum() > 0xffff {
			t.Fatalf("member %d outside chunk 0", bm.Maximum())
		}
	})
}

// FuzzDecodeRuns: any bytes decode to runs in order, disjoint and each
// non-empty, that seal back to the same bytes, or to an ErrCorrupt.
func FuzzDecodeRuns(f *testing.F) {
	f.Add(EncodeRuns([]Run{{First: 0, Last: 152, Value: 7}, {First: 200, Last: 200, Value: 9}})[1:], true)
	f.Add(EncodeRuns(nil), false)
	f.Add([]byte{0, 0, 0, 1, 0, 2, 0, 1}, true)
	f.Fuzz(func(t *testing.T, data []byte, sealIt bool) {
		if sealIt {
			data = Seal(data)
		}
		runs, err := DecodeRuns(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		for i, r := range runs {
			if r.First > r.Last || i > 0 && r.First <= runs[i-1].Last {
				t.Fatalf("runs %v out of order", runs)
			}
		}
		if again := EncodeRuns(runs); string(again) != string(data) {
			t.Fatalf("runs %v seal to %x, not %x", runs, again, data)
		}
	})
}

// FuzzDecodeRecords covers every record decoder on sealed and raw input.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(EncodeAccount(Account{Name: "n", Tier: TierService})[1:])
	f.Add(EncodeBroadcast(Broadcast{Account: 1, ContentType: "t", Payload: []byte("p")})[1:])
	f.Add(EncodeIdempotency(Idempotency{MessageID: 1})[1:])
	f.Add(EncodeTag(Tag{Account: 1, Name: "vip", Members: 3})[1:])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range [][]byte{Seal(body), body} {
			errs := []error{}
			_, err := DecodeAccount(v, 1)
			errs = append(errs, err)
			_, err = DecodeBroadcast(v, 1)
			errs = append(errs, err)
			_, err = DecodeIdempotency(v)
			errs = append(errs, err)
			_, err = DecodeU64(v)
			errs = append(errs, err)
			_, err = DecodeU32(v)
			errs = append(errs, err)
			_, _, err = DecodePair(v)
			errs = append(errs, err)
			_, err = DecodeTag(v, 1)
			errs = append(errs, err)
			for _, err := range errs {
				if err != nil && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v does not wrap ErrCorrupt", err)
				}
			}
		}
	})
}

func TestRoundTrips(t *testing.T) {
	a := Account{ID: 3, Name: "news", Tier: TierVerified, CreatedMillis: 9}
	a.SecretHash[0] = 7
	if got, err := DecodeAccount(EncodeAccount(a), 3); err != nil || got != a {
		t.Fatalf("account %+v, %v", got, err)
	}
	m := Broadcast{ID: 5, Account: 3, TimeMillis: 1, TTLSeconds: 2, ClientMsgID: "c", ContentType: "t", Total: 4, Filtered: 1, Payload: []byte("p")}
	got, err := DecodeBroadcast(EncodeBroadcast(m), 5)
	if err != nil || got.ClientMsgID != "c" || string(got.Payload) != "p" || got.Total != 4 || got.Filtered != 1 || got.Retracted {
		t.Fatalf("broadcast %+v, %v", got, err)
	}
	m.Retracted = true
	if got, err := DecodeBroadcast(EncodeBroadcast(m), 5); err != nil || !got.Retracted {
		t.Fatalf("retracted broadcast %+v, %v", got, err)
	}
	if !m.Expired(2001) || m.Expired(2000) {
		t.Fatal("Expired wrong")
	}
	if rec, err := DecodeIdempotency(EncodeIdempotency(Idempotency{MessageID: 8, AtMillis: 9})); err != nil || rec.MessageID != 8 {
		t.Fatalf("idempotency %+v, %v", rec, err)
	}
	if _, err := ParseTier("gold"); err == nil {
		t.Fatal("bad tier parsed")
	}
	v := EncodeAccount(a)
	v[3] ^= 1
	if _, err := DecodeAccount(v, 3); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flipped byte: %v", err)
	}
}
