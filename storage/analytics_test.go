package storage

import (
	"errors"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// FuzzDecodeBroadcastStats: no stored value makes the analytics decoder
// panic, and what decodes encodes back to the same bytes.
func FuzzDecodeBroadcastStats(f *testing.F) {
	f.Add(encodeBroadcastStats(BroadcastStats{Account: 1, TimeMillis: 2, Preview: true, Delivered: 3, Curve: [CurvePoints]uint32{1, 2, 3, 3, 3}}))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, v []byte) {
		st, err := decodeBroadcastStats(v)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again, err := decodeBroadcastStats(encodeBroadcastStats(st)); err != nil || again != st {
			t.Fatalf("%+v decoded back as %+v, %v", st, again, err)
		}
	})
}

// FuzzDecodeMessagingRecords: no stored template, consent, letter or
// window makes its decoder panic, and what decodes encodes back to the
// same value.
func FuzzDecodeMessagingRecords(f *testing.F) {
	f.Add(encodeTemplate(Template{Name: "t", Title: "T", Consent: true, Fields: []string{"a", "b"}}))
	f.Add(encodeConsent(Consent{Remaining: 3, Banned: true}))
	f.Add(encodeLetter(Letter{User: 1, TimeMillis: 2, ContentType: "c", Payload: []byte("p")}))
	f.Fuzz(func(t *testing.T, v []byte) {
		if l, err := decodeLetter(v, 1); err == nil {
			again, err := decodeLetter(encodeLetter(l), 1)
			if err != nil || again.User != l.User || again.TimeMillis != l.TimeMillis || again.ContentType != l.ContentType || string(again.Payload) != string(l.Payload) {
				t.Fatalf("%+v decoded back as %+v, %v", l, again, err)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if _, err := decodeWindow(v); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if tm, err := decodeTemplate(v, "t"); err == nil {
			again, err := decodeTemplate(encodeTemplate(tm), "t")
			if err != nil || again.Title != tm.Title || again.Consent != tm.Consent || len(again.Fields) != len(tm.Fields) {
				t.Fatalf("%+v decoded back as %+v, %v", tm, again, err)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if c, err := decodeConsent(v); err == nil {
			if again, err := decodeConsent(encodeConsent(c)); err != nil || again != c {
				t.Fatalf("%+v decoded back as %+v, %v", c, again, err)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}

// TestRetentionFreesAnalytics: removing broadcasts removes their
// analytics, openings and place in their account's list, and an
// acknowledgement of a removed broadcast counts nothing.
func TestRetentionFreesAnalytics(t *testing.T) {
	s := openTest(t, nil)
	b := s.NewBatch()
	var ids []uint64
	for i, at := range []uint64{1000, 2000} {
		id, err := b.AddBroadcast(Broadcast{Account: 7, TimeMillis: at, Total: 2}, roaring.BitmapOf(1, 2))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.AddBroadcastStats(id, 2, BroadcastStats{Account: 7, TimeMillis: at}); err != nil {
			t.Fatal(i, err)
		}
		ids = append(ids, id)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	acks := Acknowledgements{Cursors: map[uint32]uint64{1: ids[1]}, Deliveries: map[uint64]Delivery{ids[0]: {Delivered: 1}, ids[1]: {Delivered: 1}},
		Openings: []Opening{{ids[0], 1}, {ids[0], 1}, {ids[0], 9}}}
	if err := s.SaveAcknowledgements(acks); err != nil {
		t.Fatal(err)
	}
	st, found, err := s.BroadcastStats(ids[0])
	if err != nil || !found || st.Delivered != 1 || st.Opened != 1 {
		t.Fatalf("stats %+v, %v, %v", st, found, err)
	}
	if n, err := s.Retain(1500); err != nil || n != 1 {
		t.Fatalf("retained: %d, %v", n, err)
	}
	if _, found, _ := s.BroadcastStats(ids[0]); found {
		t.Fatal("the removed broadcast's analytics are still there")
	}
	if got, err := s.AccountBroadcasts(7, 0, 10); err != nil || len(got) != 1 || got[0] != ids[1] {
		t.Fatalf("account list %v, %v", got, err)
	}
	if err := s.SaveAcknowledgements(Acknowledgements{Deliveries: map[uint64]Delivery{ids[0]: {Delivered: 1}}, Openings: []Opening{{ids[0], 2}}}); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.BroadcastStats(ids[0]); found {
		t.Fatal("a late acknowledgement brought the removed broadcast's analytics back")
	}
	days, err := s.BroadcastDays(7, 0, 1)
	if err != nil || len(days) != 1 || days[0].Broadcasts != 2 || days[0].Delivered != 2 || days[0].Opened != 1 {
		t.Fatalf("days %+v, %v", days, err)
	}
}
