package wire

import (
	"errors"
	"reflect"
	"testing"
)

func TestCursorAdvanceKeepsOneIDPerShardInOrder(t *testing.T) {
	a, b, c := ShardBase(1), ShardBase(2), ShardBase(5)
	var cur Cursor
	for _, id := range []uint64{c + 3, a + 1, 7, a + 4, a + 2, b, c + 1, 9} {
		cur = cur.Advance(id)
	}
	if want := (Cursor{9, a + 4, c + 3}); !reflect.DeepEqual(cur, want) {
		t.Fatalf("cursor = %v, want %v (a shard's base names nothing)", cur, want)
	}
	if err := cur.Check(); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[uint64]bool{9: true, 10: false, a + 4: true, a + 5: false, b: true, b + 1: false, c + 3: true, 0: true} {
		if got := cur.Covers(id); got != want {
			t.Errorf("Covers(%#x) = %v, want %v", id, got, want)
		}
	}
	if got := cur.At(2); got != b {
		t.Fatalf("At(2) = %#x, want the shard's base %#x", got, b)
	}
	merged := Cursor{3, b + 8}.Merge(cur)
	if want := (Cursor{9, a + 4, b + 8, c + 3}); !reflect.DeepEqual(merged, want) {
		t.Fatalf("merged = %v, want %v", merged, want)
	}
	if !merged.Equal(Cursor{9, a + 4, b + 8, c + 3, ShardBase(7)}) || merged.Equal(cur) {
		t.Fatal("Equal must ignore shards at their base and see every other difference")
	}
}

func TestCursorTextRoundTrips(t *testing.T) {
	for _, c := range []Cursor{nil, {42}, {5, ShardBase(1) + 9, ShardBase(63) + 1}} {
		back, err := ParseCursor(c.String())
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("%v → %q → %v, %v", c, c.String(), back, err)
		}
	}
	for _, bad := range []string{"x", "1,,2", "72057594037927937,5", "-1", "1 2", "18446744073709551615"} {
		if _, err := ParseCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q) err = %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestResumeV2RefusesBadCursors(t *testing.T) {
	for name, c := range map[string]Cursor{
		"out of order": {ShardBase(2) + 1, ShardBase(1) + 1},
		"same shard":   {1, 2},
		"shard 64":     {ShardBase(64) + 1},
	} {
		f := decodeOne(t, AppendResumeV2(nil, ResumeV2{Cursor: c}, 0))
		if _, err := DecodeResumeV2(f.Body); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// A count beyond the ids present, or beyond MaxShards, is malformed.
	for _, body := range [][]byte{{2, 0, 0, 0, 0, 0, 0, 0, 1}, append([]byte{MaxShards + 1}, make([]byte, 8*(MaxShards+1))...)} {
		if _, err := DecodeResumeV2(body); !errors.Is(err, ErrMalformed) {
			t.Errorf("body %x…: err = %v, want ErrMalformed", body[:1], err)
		}
	}
}

// BenchmarkCursorOnDelivery is what a connection does per PUSH it is
// handed: the cursor check and the advance, for a single server (one
// shard) and for a cluster's edge of four.
func BenchmarkCursorOnDelivery(b *testing.B) {
	for _, shards := range []int{1, 4} {
		b.Run(map[int]string{1: "one shard", 4: "four shards"}[shards], func(b *testing.B) {
			var c Cursor
			for k := range shards {
				c = c.Advance(ShardBase(uint8(k)) + 1)
			}
			b.ReportAllocs()
			id := ShardBase(uint8(shards-1)) + 1
			for b.Loop() {
				id++
				if !c.Covers(id) {
					c = c.Advance(id)
				}
			}
		})
	}
}
