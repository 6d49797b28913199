package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/client"
	"herald/internal/child"
)

// PublisherFlag is the hidden first argument that makes this binary the
// sustained run's publisher, a process of its own: a publisher's
// acknowledgement is then timed by a program that does nothing else, as a
// real one would be, instead of by a goroutine queued behind the 10,000
// clients' reads in the client process.
//
// It reads its standard input a line at a time: first "ADDR ACCOUNT SECRET
// PAYLOAD", then one line per broadcast, "I", which it publishes at once
// (open loop) with I in the payload's first 8 bytes. For each it writes
// "I NANOS" (from reading the line to PUBLISH_ACK) or "I error MESSAGE". At
// the end of its input it waits for what it fired and exits.
const PublisherFlag = "__herald-publisher"

// MaybePublisher runs the publisher and exits if this process was started
// as one.
func MaybePublisher() {
	child.Run(PublisherFlag, "publisher", func([]string) error { return servePublisher(os.Stdin, os.Stdout) })
}

func servePublisher(in io.Reader, out io.Writer) error {
	lines := bufio.NewScanner(in)
	if !lines.Scan() {
		return errors.New("no configuration line")
	}
	var (
		addr, secret     string
		account, payload int
	)
	if _, err := fmt.Sscan(lines.Text(), &addr, &account, &secret, &payload); err != nil {
		return fmt.Errorf("configuration %q: %w", lines.Text(), err)
	}
	ctx := context.Background()
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: addr, Account: uint32(account), Secret: secret})
	if err != nil {
		return err
	}
	defer pub.Close()
	var (
		mu       sync.Mutex
		w        = bufio.NewWriter(out)
		inflight errgroup.Group
	)
	report := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteString(line)
		w.WriteByte('\n')
		w.Flush()
	}
	for lines.Scan() {
		fired := time.Now()
		i, err := strconv.ParseUint(lines.Text(), 10, 64)
		if err != nil {
			return fmt.Errorf("broadcast %q: %w", lines.Text(), err)
		}
		inflight.Go(func() error {
			p := make([]byte, payload)
			binary.BigEndian.PutUint64(p, i)
			_, err := pub.Publish(ctx, client.Message{ContentType: "application/octet-stream", Payload: p})
			if err != nil {
				report(fmt.Sprintf("%d error %s", i, strings.ReplaceAll(err.Error(), "\n", " ")))
			} else {
				report(fmt.Sprintf("%d %d", i, time.Since(fired)))
			}
			return nil
		})
	}
	_ = inflight.Wait()
	return lines.Err()
}

// publisherProcess is a running publisher child, as the rig's fire and
// settle use it.
type publisherProcess struct {
	proc  *child.Process
	in    io.WriteCloser
	fired int
	mu    struct {
		sync.Mutex
		cond     sync.Cond
		answered int
		first    error
		ended    bool // its output ended
	}
}

// startPublisher starts a publisher child for the account; took receives
// each acknowledged broadcast's time from fire to PUBLISH_ACK.
func startPublisher(addr string, account uint32, secret string, payload int, took func(time.Duration)) (*publisherProcess, error) {
	proc, in, out, err := child.StartPiped(PublisherFlag)
	if err != nil {
		return nil, fmt.Errorf("bench: start publisher: %w", err)
	}
	p := &publisherProcess{proc: proc, in: in}
	p.mu.cond.L = &p.mu.Mutex
	if _, err := fmt.Fprintf(in, "%s %d %s %d\n", addr, account, secret, payload); err != nil {
		p.close()
		return nil, err
	}
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			var err error
			i, rest, _ := strings.Cut(lines.Text(), " ")
			if msg, failed := strings.CutPrefix(rest, "error "); failed {
				err = fmt.Errorf("broadcast %s: %s", i, msg)
			} else if n, perr := strconv.ParseInt(rest, 10, 64); perr != nil {
				err = fmt.Errorf("publisher answered %q", lines.Text())
			} else {
				took(time.Duration(n))
			}
			p.mu.Lock()
			p.mu.answered++
			if p.mu.first == nil {
				p.mu.first = err
			}
			p.mu.cond.Broadcast()
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.mu.ended = true
		p.mu.cond.Broadcast()
		p.mu.Unlock()
	}()
	return p, nil
}

// fire asks the publisher to publish broadcast i; it does not wait.
func (p *publisherProcess) fire(i int) error {
	p.fired++
	_, err := fmt.Fprintf(p.in, "%d\n", i)
	return err
}

// settle waits for every fired broadcast's answer and returns the first
// error.
func (p *publisherProcess) settle() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.mu.answered < p.fired && !p.mu.ended {
		p.mu.cond.Wait()
	}
	if p.mu.answered < p.fired {
		return errors.Join(p.mu.first, fmt.Errorf("bench: the publisher exited after answering %d of %d broadcasts", p.mu.answered, p.fired))
	}
	return p.mu.first
}

func (p *publisherProcess) close() {
	_ = p.in.Close()
	p.proc.Stop()
}
