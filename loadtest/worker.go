package loadtest

import (
	"bufio"
	"cmp"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"herald/client"
	"herald/internal/child"
	"herald/wire"
)

// WorkerFlag is the hidden first argument with which a binary whose main
// calls MaybeServe runs as a load-test worker: a process holding one share
// of a run's clients, driven by the run's process over a pipe.
//
// The protocol is lines of text. The run's process sends the job as one
// line of JSON, then commands:
//
//	expect WANT IDS       count broadcasts IDS (comma-separated), each for WANT clients
//	mint                  mint every client's token, ahead of connecting
//	connect CURSOR        connect every client of the share from CURSOR (its String, "-" for none)
//	finish                close the clients and send their records
//
// The worker answers the job and each command with "ok" or "error
// MESSAGE", and "finish" with "result" followed by the records,
// gob-encoded, after which it exits. At any time it reports events: "live"
// (a client is live), "burst I" (expected broadcast I reached every client
// of the share it is for), "caught" (a client has every expected
// broadcast). A worker whose standard input closes closes its clients and
// exits.
const WorkerFlag = "__herald-loadtest-worker"

// workerJob is what a worker holds: users Lo..Hi of a run on Target.
type workerJob struct {
	Config Config
	Target Target
	// AdminToken travels apart: Target leaves it out of JSON reports.
	AdminToken string
	Accounts   []uint32
	Lo, Hi     uint32
}

// worker is the run's handle on a worker process.
type worker struct {
	proc    *child.Process
	in      io.WriteCloser
	lo, hi  uint32
	replies chan workerReply
	mu      sync.Mutex // guards finished
	// finished is set once the worker sent its records and exited.
	finished bool
}

// workerReply answers one command; followers only for "finish".
type workerReply struct {
	followers []*follower
	err       error
}

// startWorker starts a worker process for job, which reports its events
// to ev.
func startWorker(job workerJob, ev events) (*worker, error) {
	job.Config.Target, job.Config.Progress = nil, nil
	line, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	proc, in, out, err := child.StartPiped(WorkerFlag)
	if err != nil {
		return nil, fmt.Errorf("loadtest: start worker: %w", err)
	}
	w := &worker{proc: proc, in: in, lo: job.Lo, hi: job.Hi, replies: make(chan workerReply, 2)}
	go w.read(bufio.NewReaderSize(out, 64<<10), ev)
	if _, err := w.call(context.Background(), string(line)); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *worker) users() (lo, hi uint32) { return w.lo, w.hi }

func (w *worker) expect(ctx context.Context, ids []uint64, want int) error {
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatUint(id, 10)
	}
	_, err := w.call(ctx, fmt.Sprintf("expect %d %s", want, strings.Join(list, ",")))
	return err
}

func (w *worker) mint(ctx context.Context) error {
	_, err := w.call(ctx, "mint")
	return err
}

func (w *worker) connect(ctx context.Context, cursor wire.Cursor) error {
	_, err := w.call(ctx, "connect "+cmp.Or(cursor.String(), "-"))
	return err
}

func (w *worker) finish(ctx context.Context) ([]*follower, error) {
	r, err := w.call(ctx, "finish")
	if err != nil {
		return nil, err
	}
	_ = w.proc.Wait()
	w.mu.Lock()
	w.finished = true
	w.mu.Unlock()
	return r.followers, nil
}

// close kills the worker unless it has finished.
func (w *worker) close() {
	_ = w.in.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.finished {
		w.proc.Kill()
		w.finished = true
	}
}

// call sends one line and waits for its answer.
func (w *worker) call(ctx context.Context, line string) (workerReply, error) {
	if _, err := io.WriteString(w.in, line+"\n"); err != nil {
		return workerReply{}, fmt.Errorf("loadtest: worker for users %d..%d: %w", w.lo, w.hi, err)
	}
	select {
	case r := <-w.replies:
		if r.err != nil {
			return r, fmt.Errorf("loadtest: worker for users %d..%d: %w", w.lo, w.hi, r.err)
		}
		return r, nil
	case <-ctx.Done():
		return workerReply{}, ctx.Err()
	}
}

// read dispatches the worker's lines: events to ev, answers to replies.
func (w *worker) read(r *bufio.Reader, ev events) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			w.replies <- workerReply{err: errors.New("the worker process exited")}
			return
		}
		word, arg, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		switch word {
		case "live":
			ev.live()
		case "burst":
			i, err := strconv.Atoi(arg)
			if err != nil {
				w.replies <- workerReply{err: fmt.Errorf("bad event %q", line)}
				return
			}
			ev.burst(i)
		case "caught":
			ev.caughtUp()
		case "ok":
			w.replies <- workerReply{}
		case "error":
			w.replies <- workerReply{err: errors.New(arg)}
		case "result":
			var recs []followerRecord
			var followers []*follower
			err := gob.NewDecoder(r).Decode(&recs)
			if err == nil {
				followers, err = fromRecords(recs)
			}
			w.replies <- workerReply{followers: followers, err: err}
			return
		default:
			w.replies <- workerReply{err: fmt.Errorf("unexpected line %q", line)}
			return
		}
	}
}

// runWorker is the worker process: it holds one share, driven by the
// protocol above on in and out.
func runWorker(in io.Reader, out io.Writer) error {
	var mu sync.Mutex // one line at a time on out
	emit := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	r := bufio.NewReader(in)
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("worker: no job: %w", err)
	}
	var job workerJob
	if err := json.Unmarshal([]byte(line), &job); err != nil {
		emit("error bad job: %s", oneLine(err))
		return err
	}
	job.Target.AdminToken = job.AdminToken
	s := &share{
		cfg: job.Config, target: &job.Target, accounts: job.Accounts, lo: job.Lo, hi: job.Hi,
		admin: &client.Admin{BaseURL: job.Target.AdminURL, Token: job.AdminToken},
		ev: events{
			live:     func() { emit("live") },
			burst:    func(i int) { emit("burst %d", i) },
			caughtUp: func() { emit("caught") },
		},
	}
	emit("ok")
	ctx := context.Background()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			_, _ = s.finish(ctx) // the run's process is gone
			return nil
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "expect":
			var want int
			var ids []uint64
			if want, err = strconv.Atoi(f[1]); err == nil {
				ids, err = parseIDs(f[2])
			}
			if err == nil {
				err = s.expect(ctx, ids, want)
			}
		case len(f) == 1 && f[0] == "mint":
			err = s.mint(ctx)
		case len(f) == 2 && f[0] == "connect":
			var cursor wire.Cursor
			if f[1] != "-" {
				cursor, err = wire.ParseCursor(f[1])
			}
			if err == nil {
				err = s.connect(ctx, cursor)
			}
		case len(f) == 1 && f[0] == "finish":
			followers, _ := s.finish(ctx)
			emit("result")
			mu.Lock()
			defer mu.Unlock()
			return gob.NewEncoder(out).Encode(toRecords(followers))
		default:
			err = fmt.Errorf("unknown command %q", strings.TrimSpace(line))
		}
		if err != nil {
			emit("error %s", oneLine(err))
		} else {
			emit("ok")
		}
	}
}

// parseIDs reads the ids of an expect command.
func parseIDs(s string) ([]uint64, error) {
	parts := strings.Split(s, ",")
	ids := make([]uint64, len(parts))
	for i, p := range parts {
		var err error
		if ids[i], err = strconv.ParseUint(p, 10, 64); err != nil {
			return nil, fmt.Errorf("expect: %w", err)
		}
	}
	return ids, nil
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// followerRecord is a follower's record as a worker sends it: times in
// Unix nanoseconds (0 for none), receipts column by column.
type followerRecord struct {
	User            uint32
	Since, CaughtUp int64
	IDs             []uint64
	At, Latency     []int64
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func toRecords(followers []*follower) []followerRecord {
	recs := make([]followerRecord, len(followers))
	for i, f := range followers {
		r := followerRecord{User: f.user, Since: unixNano(f.since), CaughtUp: unixNano(f.caughtUp),
			IDs: make([]uint64, len(f.got)), At: make([]int64, len(f.got)), Latency: make([]int64, len(f.got))}
		for j, g := range f.got {
			r.IDs[j], r.At[j], r.Latency[j] = g.id, g.at.UnixNano(), int64(g.latency)
		}
		recs[i] = r
	}
	return recs
}

func fromRecords(recs []followerRecord) ([]*follower, error) {
	followers := make([]*follower, len(recs))
	for i, r := range recs {
		if len(r.At) != len(r.IDs) || len(r.Latency) != len(r.IDs) {
			return nil, fmt.Errorf("record of user %d: %d ids, %d times, %d latencies", r.User, len(r.IDs), len(r.At), len(r.Latency))
		}
		f := &follower{user: r.User, since: fromUnixNano(r.Since), caughtUp: fromUnixNano(r.CaughtUp), got: make([]receipt, len(r.IDs))}
		for j := range r.IDs {
			f.got[j] = receipt{id: r.IDs[j], at: time.Unix(0, r.At[j]), latency: time.Duration(r.Latency[j])}
		}
		followers[i] = f
	}
	return followers, nil
}
