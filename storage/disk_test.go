package storage

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"herald/internal/testutil"
)

// faults injects errno into the operations of the kinds given on files
// whose name ends in suffix, once switched on.
type faults struct {
	on     atomic.Bool
	errno  syscall.Errno
	kinds  []errorfs.OpKind
	suffix string
}

func (f *faults) MaybeError(op errorfs.Op) error {
	if !f.on.Load() || !strings.HasSuffix(op.Path, f.suffix) {
		return nil
	}
	for _, k := range f.kinds {
		if op.Kind == k {
			return f.errno
		}
	}
	return nil
}

func (f *faults) String() string { return fmt.Sprintf("%v on %v of *%s", f.errno, f.kinds, f.suffix) }

// TestWriteFaultsNeverAcknowledge: ENOSPC or EIO on the write-ahead log,
// on write or on sync, fails the commit in hand (no panic, no exit), and
// every commit after it; committed data stays readable; and the database
// reopens from what was synced with every acknowledged broadcast in it.
func TestWriteFaultsNeverAcknowledge(t *testing.T) {
	writes := []errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileWriteAt}
	syncs := []errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}
	for _, tc := range []struct {
		name  string
		errno syscall.Errno
		kinds []errorfs.OpKind
	}{
		{"ENOSPC on write", syscall.ENOSPC, writes},
		{"ENOSPC on sync", syscall.ENOSPC, syncs},
		{"EIO on write", syscall.EIO, writes},
		{"EIO on sync", syscall.EIO, syncs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			inject := &faults{errno: tc.errno, kinds: tc.kinds, suffix: ".log"}
			var logs bytes.Buffer
			s, err := Open("db", Options{fs: errorfs.Wrap(mem, inject), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			publish := func(i int) error {
				b := s.NewBatch()
				defer b.Close()
				if _, err := b.AddBroadcast(Broadcast{Account: 1, Payload: []byte{byte(i)}}, roaring.BitmapOf(uint32(i))); err != nil {
					return err
				}
				return b.Commit()
			}
			const acked = 20
			for i := 0; i < acked; i++ {
				if err := publish(i); err != nil {
					t.Fatal(err)
				}
			}
			inject.on.Store(true)
			for i := acked; i < acked+3; i++ {
				if err := publish(i); !errors.Is(err, ErrStorageFailed) {
					t.Fatalf("commit %d with %v: %v, want ErrStorageFailed", i, inject, err)
				}
			}
			if !errors.Is(s.Health(), ErrStorageFailed) {
				t.Fatalf("health after the fault: %v", s.Health())
			}
			if m, err := s.Broadcast(acked); err != nil || m.Payload[0] != acked-1 {
				t.Fatalf("committed data after the fault: %+v %v", m, err)
			}
			if s.LastMessageID() != acked {
				t.Fatalf("last id %d after %d acknowledged", s.LastMessageID(), acked)
			}
			_ = s.Close()

			// Restart on what reached the disk.
			s2, err := Open("db", Options{fs: mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s2.Close()
			if s2.LastMessageID() < acked {
				t.Fatalf("reopened with last id %d, %d acknowledged", s2.LastMessageID(), acked)
			}
			for id := uint64(1); id <= acked; id++ {
				if m, err := s2.Broadcast(id); err != nil || int(m.Payload[0]) != int(id)-1 {
					t.Fatalf("broadcast %d after reopening: %+v %v", id, m, err)
				}
			}
			if !strings.Contains(logs.String(), "fatal") {
				t.Fatalf("the fault was not logged: %s", logs.String())
			}
		})
	}
}

// TestDiskReserve: below the reserve, commits that add data are refused
// with ErrStorageFull (deletions and cursors still pass), the transition is
// logged once each way, and commits are accepted again once space returns.
func TestDiskReserve(t *testing.T) {
	var avail atomic.Uint64
	avail.Store(1 << 30)
	var logs bytes.Buffer
	s, err := Open("db", Options{fs: vfs.NewMem(), Logger: slog.New(slog.NewTextHandler(&logs, nil)), DiskReserve: 64 << 20,
		DiskUsage: func() (uint64, uint64, error) { return avail.Load(), 2 << 30, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.disk.mu.at = s.disk.mu.at.AddDate(-1, 0, 0) // trust no reading: every check reads again
	publish := func() error {
		s.disk.mu.at = s.disk.mu.at.AddDate(-1, 0, 0)
		b := s.NewBatch()
		defer b.Close()
		if _, err := b.AddBroadcast(Broadcast{Account: 1, Payload: []byte("x")}, roaring.BitmapOf(1)); err != nil {
			t.Fatal(err)
		}
		return b.Commit()
	}
	if err := publish(); err != nil {
		t.Fatal(err)
	}
	avail.Store(60 << 20)
	for i := 0; i < 3; i++ {
		if err := publish(); !errors.Is(err, ErrStorageFull) {
			t.Fatalf("below the reserve: %v", err)
		}
	}
	if err := s.Health(); !errors.Is(err, ErrStorageFull) {
		t.Fatalf("health below the reserve: %v", err)
	}
	if err := s.SaveCursors(map[uint32]uint64{1: 1}); err != nil {
		t.Fatalf("cursors below the reserve: %v", err)
	}
	avail.Store(1 << 30)
	s.disk.mu.at = s.disk.mu.at.AddDate(-1, 0, 0)
	if err := s.Health(); err != nil {
		t.Fatalf("health once space returned: %v", err)
	}
	if err := publish(); err != nil {
		t.Fatalf("once space returned: %v", err)
	}
	if n := strings.Count(logs.String(), "disk reserve reached"); n != 1 {
		t.Fatalf("logged the reserve %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "accepting writes") {
		t.Fatalf("the return of space was not logged:\n%s", logs.String())
	}
}

// TestBallast: a start with room makes a ballast of half the reserve; a
// start on a nearly full disk removes it so that the database can open.
func TestBallast(t *testing.T) {
	fs := vfs.NewMem()
	var avail atomic.Uint64
	avail.Store(1 << 30)
	opts := Options{fs: fs, Logger: slog.New(slog.DiscardHandler), DiskReserve: 64 << 20,
		DiskUsage: func() (uint64, uint64, error) { return avail.Load(), 2 << 30, nil }}
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if _, err := fs.Stat(fs.PathJoin("db", ballastName)); err != nil {
		t.Fatalf("no ballast after a start with room: %v", err)
	}
	avail.Store(10 << 20)
	s, err = Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if _, err := fs.Stat(fs.PathJoin("db", ballastName)); err == nil {
		t.Fatal("the ballast is still there after a start on a full disk")
	}
}

// TestErrorsAreLoggedOncePerCause: repeats of one cause (numbers aside)
// are counted, not logged each time.
func TestErrorsAreLoggedOncePerCause(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := newRepeats()
	for i := 0; i < 1000; i++ {
		r.report(log, fmt.Sprintf("background error: write %06d.sst: no space left on device", i))
	}
	r.report(log, "background error: something else")
	r.flush(log)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "repeated=999") {
		t.Fatalf("logged:\n%s", logs.String())
	}
}

// TestFlushFaultsStallAndRecover: table writes that fail (EIO, ENOSPC)
// fail flushes, not commits; Pebble retries them, the error is logged once
// however often it repeats, and once memtables fill up the commits stall
// and Health says so (so that new writes are refused at once rather than
// queued behind them). When the disk works again the stall ends, the
// stalled commit completes, and everything committed is there.
func TestFlushFaultsStallAndRecover(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOSPC} {
		t.Run(errno.Error(), func(t *testing.T) {
			inject := &faults{errno: errno, kinds: []errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync}, suffix: ".sst"}
			var logs testutil.SyncBuffer
			s, err := Open("db", Options{fs: errorfs.Wrap(vfs.NewMem(), inject), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			inject.on.Store(true)
			const n = 400
			payload := make([]byte, 64<<10)
			done := make(chan error, 1)
			go func() {
				for i := 0; i < n; i++ {
					b := s.NewBatch()
					payload[0] = byte(i)
					_, err := b.AddBroadcast(Broadcast{Account: 1, Payload: payload}, roaring.BitmapOf(1))
					if err == nil {
						err = b.Commit()
					}
					b.Close()
					if err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			testutil.WaitFor(t, 30*time.Second, "a reported stall", func() bool { return errors.Is(s.Health(), ErrStorageFailed) })
			inject.on.Store(false)
			if err := <-done; err != nil {
				t.Fatalf("a commit failed: %v", err)
			}
			testutil.WaitFor(t, 30*time.Second, "the stall to end", func() bool { return s.Health() == nil })
			for id := uint64(1); id <= n; id++ {
				if m, err := s.Broadcast(id); err != nil || m.Payload[0] != byte(id-1) {
					t.Fatalf("broadcast %d: %v", id, err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if first := strings.Count(logs.String(), "at most once a minute"); first != 1 {
				t.Fatalf("the flush error was logged %d times as new:\n%s", first, logs.String())
			}
		})
	}
}
