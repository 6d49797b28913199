//go:build linux

package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkSendLoopback is issue 12's MSG_ZEROCOPY measurement: what one
// send of a delivery's bytes costs on loopback (the only network here),
// copied as Herald and the floors send (the kernel copies the bytes into
// its socket buffers), or with MSG_ZEROCOPY (the kernel pins the sender's
// pages and reports on the socket's error queue when it is done with
// them, which the sender must read). The sizes are what one write to one
// connection carries: a burst's single 256-byte PUSH, a sustained
// drain's writev of 16 KiB, and 64 KiB. Besides ns/op it reports the
// sending thread's CPU per send (its own and the loopback's receive
// processing, which runs on the sender's CPU) and, for zero-copy, the
// share of sends the kernel reported as copied after all.
func BenchmarkSendLoopback(b *testing.B) {
	for _, size := range []int{256, 4 << 10, 16 << 10, 32 << 10, 64 << 10} {
		for _, zerocopy := range []bool{false, true} {
			name := "copy"
			if zerocopy {
				name = "zerocopy"
			}
			b.Run(fmt.Sprintf("%s/%dB", name, size), func(b *testing.B) { benchmarkSend(b, size, zerocopy) })
		}
	}
}

func benchmarkSend(b *testing.B, size int, zerocopy bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	drained := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			drained <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(io.Discard, c)
		drained <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	s := &sender{raw: raw, zerocopy: zerocopy}
	if zerocopy {
		if err := s.control(func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1) }); err != nil {
			b.Skipf("SO_ZEROCOPY: %v", err)
		}
	}
	frame := make([]byte, size)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpuBefore := threadCPU(b)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		if err := s.send(frame); err != nil {
			b.Fatal(err)
		}
	}
	for s.zerocopy && s.done < s.sent {
		if err := s.reap(true); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := threadCPU(b) - cpuBefore
	_ = conn.Close()
	if err := <-drained; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "sender-cpu-ns/op")
	if zerocopy {
		b.ReportMetric(100*float64(s.copied)/float64(max(s.done, 1)), "copied-%")
	}
}

// sender writes whole frames to one socket, with MSG_ZEROCOPY when asked,
// reaping the kernel's completions as it goes.
type sender struct {
	raw      syscall.RawConn
	zerocopy bool
	// sent counts zero-copy sends; done and copied the completions read
	// back, and those the kernel marked as copied anyway.
	sent, done, copied uint64
	oob                []byte // the error queue's control messages, reused
}

func (s *sender) control(fn func(fd int) error) error {
	var err error
	if cerr := s.raw.Control(func(fd uintptr) { err = fn(int(fd)) }); cerr != nil {
		return cerr
	}
	return err
}

func (s *sender) send(frame []byte) error {
	flags := 0
	if s.zerocopy {
		flags = unix.MSG_ZEROCOPY
	}
	for len(frame) > 0 {
		var n int
		var err error
		werr := s.raw.Write(func(fd uintptr) bool {
			n, err = unix.SendmsgN(int(fd), frame, nil, nil, flags|unix.MSG_DONTWAIT)
			return !errors.Is(err, unix.EAGAIN)
		})
		if werr != nil {
			return werr
		}
		switch {
		case errors.Is(err, unix.ENOBUFS) && s.zerocopy:
			// Too many completions unread (optmem): read them and retry.
			if err := s.reap(true); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		frame = frame[n:]
		if s.zerocopy {
			s.sent++
			if err := s.reap(false); err != nil {
				return err
			}
		}
	}
	return nil
}

// reap reads the completions waiting on the error queue; wait: at least
// one, polling for it.
func (s *sender) reap(wait bool) error {
	if s.oob == nil {
		s.oob = make([]byte, 128)
	}
	oob := s.oob
	for {
		var oobn int
		var err error
		cerr := s.raw.Control(func(fd uintptr) {
			_, oobn, _, _, err = unix.Recvmsg(int(fd), nil, oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		})
		if cerr != nil {
			return cerr
		}
		if errors.Is(err, unix.EAGAIN) {
			if wait {
				runtime.Gosched()
				continue
			}
			return nil
		}
		if err != nil {
			return err
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if len(m.Data) < int(unsafe.Sizeof(unix.SockExtendedErr{})) {
				continue
			}
			ee := (*unix.SockExtendedErr)(unsafe.Pointer(&m.Data[0]))
			if ee.Origin != unix.SO_EE_ORIGIN_ZEROCOPY {
				continue
			}
			// One completion covers the sends numbered Info..Data.
			n := uint64(ee.Data-ee.Info) + 1
			s.done += n
			if ee.Code&unix.SO_EE_CODE_ZEROCOPY_COPIED != 0 {
				s.copied += n
			}
		}
		wait = false
	}
}

// threadCPU is the calling OS thread's user and system time.
func threadCPU(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
