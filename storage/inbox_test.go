package storage

import "testing"

// TestRetainLettersKeepsSeqs: retention removes letters and windows older
// than the cutoff, per account as a prefix, and a seq is never handed out
// twice, even once every letter of an account is gone.
func TestRetainLettersKeepsSeqs(t *testing.T) {
	s := openTest(t, nil)
	write := func(account, user uint32, at uint64) uint64 {
		t.Helper()
		b := s.NewBatch()
		defer b.Close()
		seq, err := b.AppendLetter(account, Letter{User: user, TimeMillis: at, Payload: []byte("x")})
		if err == nil {
			err = b.PutWindow(account, user, Window{LastMillis: at})
		}
		if err == nil {
			err = b.Commit()
		}
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	for i, at := range []uint64{100, 200, 300} {
		if seq := write(1, uint32(i+1), at); seq != uint64(i+1) {
			t.Fatalf("seq %d, want %d", seq, i+1)
		}
	}
	write(2, 9, 150)
	removed, err := s.RetainLetters(250)
	if err != nil || removed != 3 {
		t.Fatalf("removed %d, %v; want 3", removed, err)
	}
	left, err := s.Inbox(1, 0, 10)
	if err != nil || len(left) != 1 || left[0].Seq != 3 || left[0].User != 3 {
		t.Fatalf("account 1 keeps %+v, %v", left, err)
	}
	if left, err := s.Inbox(2, 0, 10); err != nil || len(left) != 0 {
		t.Fatalf("account 2 keeps %+v, %v", left, err)
	}
	for _, c := range []struct {
		account, user uint32
		want          uint64
	}{{1, 1, 0}, {1, 3, 300}, {2, 9, 0}} {
		if w, err := s.Window(c.account, c.user); err != nil || w.LastMillis != c.want {
			t.Fatalf("window of %d with %d: %+v, %v; want last %d", c.user, c.account, w, err, c.want)
		}
	}
	if seq := write(2, 9, 400); seq != 2 {
		t.Fatalf("account 2's next seq %d, want 2", seq)
	}
}
