package fanout

import (
	"errors"
	"testing"
)

func TestWriteBehind(t *testing.T) {
	var w writeBehind[uint32, uint64]
	var saved []map[uint32]uint64
	fail := false
	during := uint64(20)
	w.init(func(batch map[uint32]uint64) error {
		// While a save runs, its entries are still readable, and a newer
		// value may arrive.
		if v, ok := w.get(1); !ok || v != batch[1] {
			t.Errorf("entry 1 invisible during the save: %d %v", v, ok)
		}
		w.put(2, during)
		if fail {
			return errors.New("disk full")
		}
		saved = append(saved, batch)
		return nil
	}, func(old, new uint64) uint64 { return max(old, new) })

	w.put(1, 5)
	w.put(1, 3) // merged: stays 5
	w.put(2, 7)
	fail = true
	if err := w.flush(); err == nil {
		t.Fatal("failed save reported success")
	}
	if v, _ := w.get(1); v != 5 {
		t.Fatalf("after a failed save, 1 = %d, want 5 still pending", v)
	}
	fail, during = false, 30
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || saved[0][1] != 5 || saved[0][2] != 20 {
		t.Fatalf("saved %v", saved)
	}
	if _, ok := w.get(1); ok {
		t.Fatal("a saved, unchanged entry is still pending")
	}
	// 2 was saved as 20 but moved to 30 during the save: it stays pending.
	if v, ok := w.get(2); !ok || v != 30 {
		t.Fatalf("entry 2 = %d %v, want 30 still pending", v, ok)
	}
}
