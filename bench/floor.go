package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"

	"herald/internal/child"
	"herald/wire"
)

// FloorFlag is the hidden first argument with which a binary whose main
// calls MaybeFloor runs as the floor.
const FloorFlag = "__herald-floor"

// MaybeFloor turns the process into the floor when started with FloorFlag,
// and never returns in that case.
func MaybeFloor() {
	child.Run(FloorFlag, "floor", func(args []string) error {
		if len(args) > 0 {
			switch args[0] {
			case stormMode:
				return serveStormFloor(wire.AppendResumed(nil, wire.Resumed{}, 0))
			case stormPageMode:
				answer, err := stormPage(args[1:])
				if err != nil {
					return err
				}
				return serveStormFloor(answer)
			case poolMode:
				return serveFloor(floorWriters)
			}
		}
		return serveFloor(0)
	})
}

// poolMode is the floor's argument for its pool of writers, and
// floorWriters their number.
const (
	poolMode     = "pool"
	floorWriters = 4
)

// serveFloor accepts client connections on one port and triggers on
// another. A trigger is a uint32 length and a frame; the floor answers one
// byte, then writes the frame to every client connection with a plain
// Write: in turn (writers 0), or split among that many goroutines, each
// writing its share of the connections (the i-th connection is always
// writer i%writers's, so each connection gets the frames in order), and
// writing the frames it finds queued together in one Write per connection
// (writeBatch). That is all a broadcast server must do at the least. A zero length asks
// instead for the number of clients accepted (uint32).
func serveFloor(writers int) error {
	clients, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	control, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := clients.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }() // notice closes
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	child.Announce("floor", "clients", clients.Addr().String(), "control", control.Addr().String())
	child.ExitWithParent(func() { os.Exit(0) })
	var pool []chan job
	for w := range writers {
		jobs := make(chan job, 64)
		pool = append(pool, jobs)
		go func() {
			for j := range jobs {
				batch := []job{j}
				for more := true; more; {
					select {
					case next, ok := <-jobs:
						if ok {
							batch = append(batch, next)
						}
						more = ok
					default:
						more = false
					}
				}
				writeBatch(batch, w, writers)
			}
		}()
	}
	for {
		ctl, err := control.Accept()
		if err != nil {
			return err
		}
		var size [4]byte
		for {
			if _, err := io.ReadFull(ctl, size[:]); err != nil {
				break
			}
			frame := make([]byte, binary.BigEndian.Uint32(size[:]))
			if len(frame) == 0 {
				mu.Lock()
				binary.BigEndian.PutUint32(size[:], uint32(len(conns)))
				mu.Unlock()
				if _, err := ctl.Write(size[:]); err != nil {
					break
				}
				continue
			}
			if _, err := io.ReadFull(ctl, frame); err != nil {
				break
			}
			if _, err := ctl.Write([]byte{'A'}); err != nil {
				break
			}
			mu.Lock()
			targets := conns
			mu.Unlock()
			if writers > 0 {
				for _, jobs := range pool {
					jobs <- job{frame, targets}
				}
				continue
			}
			for _, c := range targets {
				_, _ = c.Write(frame)
			}
		}
		_ = ctl.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		conns = nil
		mu.Unlock()
	}
}

// job is one broadcast for a floor writer: its frame and the connections
// accepted when it was triggered.
type job struct {
	frame   []byte
	targets []net.Conn
}

// writeBatch writes the broadcasts a writer found queued together, as a
// server that keeps up under load does: each connection of the writer's
// share (w of writers) gets all its frames in one Write. Connections only
// accumulate during a run, so a connection is a target of a suffix of the
// batch; a batch that is not (a run ended between its jobs) is written one
// job at a time.
func writeBatch(batch []job, w, writers int) {
	for k := 1; k < len(batch); k++ {
		if len(batch[k].targets) < len(batch[k-1].targets) {
			for _, j := range batch {
				writeBatch([]job{j}, w, writers)
			}
			return
		}
	}
	suffix := make([][]byte, len(batch)) // suffix[k]: the frames of batch[k:]
	for k := len(batch) - 1; k >= 0; k-- {
		if k == len(batch)-1 {
			suffix[k] = batch[k].frame
		} else {
			suffix[k] = append(append([]byte(nil), batch[k].frame...), suffix[k+1]...)
		}
	}
	last := batch[len(batch)-1].targets
	k := 0
	for i := w; i < len(last); i += writers {
		for len(batch[k].targets) <= i {
			k++
		}
		_, _ = last[i].Write(suffix[k])
	}
}

// floorProcess is a running floor.
type floorProcess struct {
	proc        *child.Process
	clientAddr  string
	controlAddr string
}

func startFloor(wrapper []string, mode ...string) (*floorProcess, error) {
	proc, err := child.Start(wrapper, append([]string{FloorFlag}, mode...)...)
	if err != nil {
		return nil, err
	}
	return &floorProcess{proc: proc, clientAddr: proc.Announced["clients"], controlAddr: proc.Announced["control"]}, nil
}

// stormMode is the floor's argument for reconnect storms; stormPageMode,
// followed by a count of broadcasts and a payload size, the page floor's.
const (
	stormMode     = "storm"
	stormPageMode = "storm-page"
)

// stormPage is the page floor's answer: the bytes a Herald client that
// missed n broadcasts of size bytes receives (WELCOME, n PUSH frames,
// RESUMED), built once.
func stormPage(args []string) ([]byte, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("%s wants a count of broadcasts and a payload size", stormPageMode)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return nil, err
	}
	size, err := strconv.Atoi(args[1])
	if err != nil {
		return nil, err
	}
	b := wire.AppendWelcome(nil, wire.Welcome{Version: wire.Version1, ID: 1, HeartbeatMillis: 30000, MaxFrame: wire.DefaultMaxFrame})
	payload := make([]byte, size)
	for i := 1; i <= n; i++ {
		b = wire.AppendPush(b, wire.Push{MessageID: uint64(i), Account: 1, TimeMillis: 1, ContentType: "application/octet-stream", Payload: payload})
	}
	return wire.AppendResumed(b, wire.Resumed{Count: uint32(n), LastID: uint64(n)}, 0), nil
}

// serveStormFloor is the floor of a reconnect storm: it accepts each
// connection, reads what the client sends first, answers with a plain
// Write and keeps the connection open. With one small frame (a RESUMED)
// for an answer that is the least a server must do for a client that
// connects and resumes; with stormPage's, the least a server must do to
// send it the same bytes as Herald (the page floor).
func serveStormFloor(answer []byte) error {
	clients, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	child.Announce("floor", "clients", clients.Addr().String())
	child.ExitWithParent(func() { os.Exit(0) })
	for {
		c, err := clients.Accept()
		if err != nil {
			return err
		}
		go func() {
			buf := make([]byte, 512)
			if _, err := c.Read(buf); err == nil {
				_, _ = c.Write(answer)
			}
			_, _ = io.Copy(io.Discard, c) // until the client closes
			_ = c.Close()
		}()
	}
}
