package cluster

import (
	"reflect"
	"testing"

	"herald/engine"
	"herald/wire"
)

// TestMergedPagesStayUnderTheBudget: the cores' pages are joined in shard
// order until their frames would pass pageBudget; a page left out is
// covered up to the id before its first frame, for the next RESUME, and
// More is set.
func TestMergedPagesStayUnderTheBudget(t *testing.T) {
	push := func(id uint64, size int) []byte {
		return wire.AppendPush(nil, wire.Push{MessageID: id, Account: 1, Payload: make([]byte, size)})
	}
	s1, s2 := wire.ShardBase(1), wire.ShardBase(2)
	pages := []engine.Page{
		{Frames: [][]byte{push(3, 600<<10)}, Last: wire.Cursor{9}},
		{Last: wire.Cursor{s1 + 4}, HistoryMissed: true},                                   // nothing for the user
		{Frames: [][]byte{push(s2+5, 600<<10), push(s2+7, 10)}, Last: wire.Cursor{s2 + 8}}, // over the budget
	}
	got := mergePages(pages, 42)
	want := wire.Cursor{9, s1 + 4, s2 + 4}
	if len(got.Frames) != 1 || !got.More || !got.HistoryMissed || got.Epoch != 42 || !reflect.DeepEqual(got.Last, want) {
		t.Fatalf("merged: %d frames, more %v, missed %v, epoch %d, last %x; want 1, true, true, 42, %x",
			len(got.Frames), got.More, got.HistoryMissed, got.Epoch, got.Last, want)
	}
	// Small pages are joined whole; one core's More is the page's.
	pages[0].Frames[0] = push(3, 10)
	pages[2].More = true
	got = mergePages(pages, 0)
	if len(got.Frames) != 3 || !got.More || !reflect.DeepEqual(got.Last, wire.Cursor{9, s1 + 4, s2 + 8}) {
		t.Fatalf("merged small pages: %d frames, more %v, last %x", len(got.Frames), got.More, got.Last)
	}
}
