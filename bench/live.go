package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"herald/client"
	"herald/internal/child"
	"herald/internal/serverproc"
)

// LiveFlag is the hidden first argument that makes this binary the storm's
// live side, a process of its own: the clients online throughout and the
// publisher of their live broadcasts. Their receipts are then timed by a
// program that does nothing else, as those clients would be on their own
// devices, instead of by goroutines queued behind the storm's clients,
// which read 30 KB each, thousands a second, in the client process.
//
// It reads its standard input a line at a time: first "CLIENTADDR
// PUBLISHERADDR ACCOUNT SECRET PAYLOAD CURSOR ONLINE", then ONLINE client
// tokens, one a line; it connects them, each resuming from CURSOR, and
// answers "ready". Then:
//
//   - "quiet N EVERY": N live broadcasts, EVERY nanoseconds apart, then
//     the answer "done" (below) for them;
//   - "start EVERY": a live broadcast every EVERY nanoseconds from now,
//     answered "started";
//   - "stop": no more, and "done" for those sent since "start".
//
// "done C1,C2,… A1,A2,…" gives each broadcast's publish → last online
// receipt and publish → PUBLISH_ACK, in nanoseconds; "error MESSAGE" ends
// it.
const LiveFlag = "__herald-live"

// MaybeLive runs the live side and exits if this process was started as
// one.
func MaybeLive() {
	child.Run(LiveFlag, "live", func([]string) error { return serveLive(os.Stdin, os.Stdout) })
}

func serveLive(in io.Reader, out io.Writer) error {
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 64<<10), 64<<10)
	next := func() (string, error) {
		if !lines.Scan() {
			if err := lines.Err(); err != nil {
				return "", err
			}
			return "", io.EOF
		}
		return lines.Text(), nil
	}
	line, err := next()
	if err != nil {
		return fmt.Errorf("no configuration line: %w", err)
	}
	var (
		clientAddr, publisherAddr, secret string
		account, payload, online          int
		cursor                            uint64
	)
	if _, err := fmt.Sscan(line, &clientAddr, &publisherAddr, &account, &secret, &payload, &cursor, &online); err != nil {
		return fmt.Errorf("configuration %q: %w", line, err)
	}
	tokens := make([]string, online)
	for i := range tokens {
		if tokens[i], err = next(); err != nil {
			return fmt.Errorf("token %d: %w", i, err)
		}
	}
	ctx := context.Background()
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: publisherAddr, Account: uint32(account), Secret: secret})
	if err != nil {
		return err
	}
	defer pub.Close()
	body := make([]byte, payload)
	swarm, err := dialSwarm(clientAddr, online, 100000, func(i int) []byte { return handshake(tokens[i], cursor) })
	if err != nil {
		return err
	}
	defer swarm.close()
	swarm.base.Store(cursor + 1)
	live := &liveSender{swarm: swarm, publish: func() (uint64, error) {
		r, err := pub.Publish(ctx, client.Message{ContentType: "application/octet-stream", Payload: body})
		return r.MessageID, err
	}}
	w := bufio.NewWriter(out)
	say := func(s string) error {
		w.WriteString(s)
		w.WriteByte('\n')
		return w.Flush()
	}
	done := func(from, to int) error {
		completions, err := live.completions(from, to)
		if err != nil {
			return err
		}
		return say("done " + joinNanos(completions) + " " + joinNanos(live.ackTimes(from, to)))
	}
	if err := say("ready"); err != nil {
		return err
	}
	var (
		stop    chan struct{}
		sending chan error
		began   int
	)
	for {
		line, err := next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch cmd {
		case "quiet":
			var n int
			var every time.Duration
			if _, err := fmt.Sscan(arg, &n, &every); err != nil {
				return fmt.Errorf("%q: %w", line, err)
			}
			from := live.sent()
			for i := 0; i < n; i++ {
				if err := live.send(); err != nil {
					return err
				}
				time.Sleep(every)
			}
			if err := done(from, from+n); err != nil {
				return err
			}
		case "start":
			every, err := strconv.ParseInt(arg, 10, 64)
			if err != nil || stop != nil {
				return fmt.Errorf("%q: started already or not a duration", line)
			}
			began, stop, sending = live.sent(), make(chan struct{}), make(chan error, 1)
			go func() {
				t := time.NewTicker(time.Duration(every))
				defer t.Stop()
				for {
					select {
					case <-stop:
						sending <- nil
						return
					case <-t.C:
						if err := live.send(); err != nil {
							sending <- err
							return
						}
					}
				}
			}()
			if err := say("started"); err != nil {
				return err
			}
		case "stop":
			if stop == nil {
				return errors.New("stop before start")
			}
			close(stop)
			if err := <-sending; err != nil {
				return err
			}
			stop = nil
			if err := done(began, live.sent()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown command %q", line)
		}
	}
}

func joinNanos(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = strconv.FormatInt(int64(d), 10)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

func splitNanos(s string) ([]time.Duration, error) {
	if s == "-" {
		return nil, nil
	}
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, time.Duration(n))
	}
	return out, nil
}

// liveProcess is a running live side, as heraldStorm drives it.
type liveProcess struct {
	proc  *child.Process
	in    io.WriteCloser
	lines *bufio.Scanner
}

// startLive starts the live side: online clients resuming from cursor with
// tokens, and a publisher for the account.
func startLive(target serverproc.Addrs, account client.Account, payload int, cursor uint64, tokens []string) (*liveProcess, error) {
	proc, in, out, err := child.StartPiped(LiveFlag)
	if err != nil {
		return nil, fmt.Errorf("bench: start the live side: %w", err)
	}
	l := &liveProcess{proc: proc, in: in, lines: bufio.NewScanner(out)}
	l.lines.Buffer(make([]byte, 1<<20), 16<<20)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %d %s %d %d %d\n", target.ClientAddr, target.PublisherAddr, account.ID, account.Secret, payload, cursor, len(tokens))
	for _, t := range tokens {
		b.WriteString(t)
		b.WriteByte('\n')
	}
	if err := l.ask(b.String(), "ready"); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// ask sends lines and reads one answer, which must start with want.
func (l *liveProcess) ask(lines, want string) error {
	_, err := l.answer(lines, want)
	return err
}

func (l *liveProcess) answer(lines, want string) (string, error) {
	if _, err := io.WriteString(l.in, lines); err != nil {
		return "", fmt.Errorf("bench: the live side: %w", err)
	}
	if !l.lines.Scan() {
		return "", fmt.Errorf("bench: the live side ended (%v)", l.lines.Err())
	}
	got := l.lines.Text()
	rest, ok := strings.CutPrefix(got, want)
	if !ok {
		return "", fmt.Errorf("bench: the live side answered %q", got)
	}
	return strings.TrimSpace(rest), nil
}

// results reads a "done" answer to lines.
func (l *liveProcess) results(lines string) (completions, acks []time.Duration, err error) {
	rest, err := l.answer(lines, "done ")
	if err != nil {
		return nil, nil, err
	}
	c, a, _ := strings.Cut(rest, " ")
	if completions, err = splitNanos(c); err != nil {
		return nil, nil, err
	}
	if acks, err = splitNanos(a); err != nil {
		return nil, nil, err
	}
	return completions, acks, nil
}

// quiet sends n live broadcasts every apart and returns their times.
func (l *liveProcess) quiet(n int, every time.Duration) (completions, acks []time.Duration, err error) {
	return l.results(fmt.Sprintf("quiet %d %d\n", n, every))
}

// start begins a live broadcast every every; stop ends them and returns
// their times.
func (l *liveProcess) start(every time.Duration) error {
	return l.ask(fmt.Sprintf("start %d\n", every), "started")
}

func (l *liveProcess) stop() (completions, acks []time.Duration, err error) {
	return l.results("stop\n")
}

func (l *liveProcess) close() {
	_ = l.in.Close()
	_ = l.proc.Wait()
}
