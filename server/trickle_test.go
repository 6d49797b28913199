package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/fanout"
	"herald/internal/serverproc"
	"herald/internal/testutil"
	"herald/wire"
)

// TestTricklersAreClosedInBoundedMemory: 10,000 authenticated clients each
// begin a frame of nearly the client listener's maximum and then send one
// byte of it every half second, forever. The server closes every one with
// FRAME_TIMEOUT by the frame deadline, and its memory grows by less than
// 100 MiB meanwhile (before whole-frame liveness, the small client frame
// limit and the frame deadline, 2,000 such connections pinned 2.6 GiB).
func TestTricklersAreClosedInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("trickler test skipped in -short mode")
	}
	tricklers := 10000
	if raceEnabled {
		tricklers = 1000 // the race detector's memory and speed
	}
	const frameTimeout = 3 * time.Second
	dir := filepath.Join(t.TempDir(), "data")
	proc, err := serverproc.StartWith(dir, []string{"--frame-timeout", frameTimeout.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Stop)
	key := signingKeyIn(t, dir)
	_, baseRSS := proc.Proc().Usage()

	conns := make([]net.Conn, tricklers)
	t.Cleanup(func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	})
	var g errgroup.Group
	g.SetLimit(64)
	began := time.Now()
	for i := range conns {
		g.Go(func() error {
			nc, err := net.Dial("tcp", proc.Addrs().ClientAddr)
			if err != nil {
				return err
			}
			conns[i] = nc
			token := fanout.MintToken(key, uint32(i+1), time.Now().Add(time.Hour))
			if _, err := nc.Write(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: token})); err != nil {
				return err
			}
			welcome := make([]byte, wire.HeaderSize+13)
			_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.ReadFull(nc, welcome); err != nil || wire.Type(welcome[4]) != wire.TypeWelcome {
				return errors.Join(errors.New("no WELCOME"), err)
			}
			// The start of a RESUME-typed frame of 4,000 bytes, 3,000 of them.
			start := append(wire.AppendHeader(nil, wire.TypeResume, 0, 4000-2), make([]byte, 3000)...)
			_, err = nc.Write(start)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	connected := time.Since(began)

	var peak int64
	var mu sync.Mutex
	stop := make(chan struct{})
	var sampled sync.WaitGroup
	sampled.Add(1)
	go func() { // trickle a byte to each, and sample the server's RSS
		defer sampled.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, rss := proc.Proc().Usage(); rss > peak {
				mu.Lock()
				peak = rss
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, nc := range conns {
				_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				_, _ = nc.Write([]byte{0})
			}
		}
	}()
	// Every trickler is told FRAME_TIMEOUT and closed by the deadline
	// (counted from its first byte; the sweep runs every frameTimeout/4).
	deadline := began.Add(connected + frameTimeout + frameTimeout/4 + 5*time.Second)
	for i := range conns {
		g.Go(func() error {
			nc := conns[i]
			_ = nc.SetReadDeadline(deadline)
			code, err := closedWith(nc)
			if err != nil {
				return err
			}
			if code != wire.CodeFrameTimeout {
				return errors.New("closed with " + code.String())
			}
			return nil
		})
	}
	err = g.Wait()
	close(stop)
	sampled.Wait()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	growth := peak - baseRSS
	mu.Unlock()
	t.Logf("%d tricklers connected in %v, all closed with FRAME_TIMEOUT within %v; server RSS grew %d MiB", tricklers, connected.Round(time.Millisecond), time.Since(began).Round(time.Millisecond), growth>>20)
	if !raceEnabled && growth > 100<<20 {
		t.Fatalf("server RSS grew %d MiB for %d tricklers, over 100 MiB", growth>>20, tricklers)
	}
}

// closedWith reads nc until the server closes it and returns the code of
// the ERROR it sent first.
func closedWith(nc net.Conn) (wire.Code, error) {
	p := wire.NewParser(0)
	var code wire.Code
	buf := make([]byte, 1024)
	for {
		n, err := nc.Read(buf)
		if ferr := p.Feed(buf[:n], func(f wire.Frame) error {
			if f.Type == wire.TypeError && code == 0 {
				m, err := wire.DecodeError(f.Body)
				code = m.Code
				return err
			}
			return nil
		}); ferr != nil {
			return 0, ferr
		}
		if errors.Is(err, io.EOF) || testutil.IsReset(err) {
			return code, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// signingKeyIn reads the key a server signs client tokens with from its
// data directory, as anyone who can read token.keys could.
func signingKeyIn(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "token.keys"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Keys []struct {
			Key []byte `json:"key"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &f); err != nil || len(f.Keys) == 0 {
		t.Fatalf("token.keys: %v", err)
	}
	return f.Keys[0].Key
}
