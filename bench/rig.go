package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"herald/client"
	"herald/internal/child"
	"herald/internal/serverproc"
	"herald/internal/testtier"
	"herald/wire"
)

// rig is one side, ready to send: a server or the floor in its own
// process, with the client swarm connected and live.
type rig struct {
	clients *swarm
	// ack: the clients acknowledge what they receive (heraldOptions).
	ack  bool
	proc *child.Process
	// others are the rest of the side's processes (a cluster's): cpu
	// counts them too.
	others []*child.Process
	// send delivers broadcast i (0-based) and returns when the sender got
	// its acknowledgement: PUBLISH_ACK from Herald, the trigger's answer
	// from the floor.
	send func(i int) (time.Time, error)
	// fire starts broadcast i without waiting for its acknowledgement (an
	// open-loop sender); settle waits for every fired one to be
	// acknowledged and returns the first error.
	fire   func(i int)
	settle func() error
	// acks gathers each fired broadcast's time from fire to its
	// PUBLISH_ACK (Herald's rigs; the floor answers its triggers only at
	// settle, so it has none).
	acks struct {
		sync.Mutex
		took []time.Duration
	}
	rssPerConn float64
	closers    []func()
	// profile, on a Herald rig, writes a CPU profile of the server over
	// the next d to w (its /debug/pprof/profile); trace, an execution
	// trace (/debug/pprof/trace).
	profile, trace func(d time.Duration, w io.Writer) error
	// histogram, on a Herald rig, reads one of the server's /metrics
	// histograms (herald_commit_seconds, herald_publish_ack_seconds): each
	// bucket's upper bound and cumulative count.
	histogram func(name string) ([]bucket, error)
}

// bucket is one bucket of a Prometheus histogram.
type bucket struct {
	le    float64
	count float64
}

// dataDir makes a temporary data directory for a server of the rig,
// removed when it closes ("" for a store in memory).
func (r *rig) dataDir(inMemory bool) (string, error) {
	if inMemory {
		return "", nil
	}
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return "", err
	}
	r.closers = append(r.closers, func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "data"), nil
}

func (r *rig) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// cpu returns the process's CPU time so far.
func (r *rig) cpu() time.Duration {
	cpu, _ := r.proc.Usage()
	for _, p := range r.others {
		c, _ := p.Usage()
		cpu += c
	}
	return cpu
}

// heraldRig starts Herald with one account whose followers are the clients,
// connects them and returns a rig whose send publishes.
func heraldRig(ctx context.Context, clients, broadcasts, payloadSize int, wrapper []string, inMemory bool) (_ *rig, err error) {
	return heraldRigFollowed(ctx, clients, clients, broadcasts, payloadSize, wrapper, inMemory)
}

// heraldRigFollowed is heraldRig with users 1..followers (at least the
// clients) following the account.
func heraldRigFollowed(ctx context.Context, clients, followers, broadcasts, payloadSize int, wrapper []string, inMemory bool) (_ *rig, err error) {
	return heraldRigOver(ctx, clients, followers, broadcasts, payloadSize, wrapper, inMemory, heraldOptions{})
}

// heraldOptions vary a Herald rig: clients over WebSocket, clients that
// acknowledge each PUSH, flags for herald serve.
type heraldOptions struct {
	ws, ack bool
	flags   []string
}

// heraldRigOver is heraldRigFollowed with opts.
func heraldRigOver(ctx context.Context, clients, followers, broadcasts, payloadSize int, wrapper []string, inMemory bool, opts heraldOptions) (_ *rig, err error) {
	r := &rig{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	dataDir, err := r.dataDir(inMemory)
	if err != nil {
		return nil, err
	}
	srv, err := serverproc.StartWith(dataDir, opts.flags, wrapper...)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, srv.Stop)
	r.proc = srv.Proc()
	target := srv.Addrs()
	addr := target.ClientAddr
	if opts.ws {
		addr = "ws://" + addr + "/"
	}
	r.ack = opts.ack
	return r, r.connect(ctx, target, clients, followers, broadcasts, payloadSize, func(int) string { return addr }, r.proc)
}

// connect makes users 1..followers (the clients among them) followers of
// a new account on the server
// whose admin API and publisher listener target names, connects client i
// to addr(i), and sets r up to publish through target. The processes in
// rss hold the connections (their RSS growth is r.rssPerConn).
func (r *rig) connect(ctx context.Context, target serverproc.Addrs, clients, followers, broadcasts, payloadSize int, addr func(int) string, rss ...*child.Process) error {
	resident := func() (sum int64) {
		for _, p := range rss {
			_, b := p.Usage()
			sum += b
		}
		return sum
	}
	admin := &client.Admin{BaseURL: target.AdminURL, Token: target.AdminToken}
	r.profile = func(d time.Duration, w io.Writer) error { return debugFetch(target, "profile", d, w) }
	r.trace = func(d time.Duration, w io.Writer) error { return debugFetch(target, "trace", d, w) }
	r.histogram = func(name string) ([]bucket, error) { return histogram(target, name) }
	account, err := admin.CreateAccount(ctx, "bench", testtier.Unlimited.Name)
	if err != nil {
		return err
	}
	if err := importFollowers(ctx, admin, account.ID, 1, max(followers, clients)); err != nil {
		return err
	}
	tokens, err := mintTokens(ctx, admin, clients)
	if err != nil {
		return err
	}

	rssBefore := resident()
	r.clients, err = dialSpread(addr, clients, broadcasts, r.ack, func(i int) []byte {
		b := wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: tokens[i]})
		return wire.AppendResume(b, wire.Resume{}, 0)
	})
	if err != nil {
		return err
	}
	r.closers = append(r.closers, r.clients.close)
	stop := make(chan struct{})
	r.closers = append(r.closers, func() { close(stop) })
	go r.clients.keepAlive(10*time.Second, stop)
	time.Sleep(200 * time.Millisecond)
	r.rssPerConn = float64(resident()-rssBefore) / float64(clients)

	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: target.PublisherAddr, Account: account.ID, Secret: account.Secret})
	if err != nil {
		return err
	}
	r.closers = append(r.closers, func() { _ = pub.Close() })
	r.clients.base.Store(1) // a fresh server: the first broadcast is id 1
	payload := make([]byte, payloadSize)
	r.send = func(i int) (time.Time, error) {
		binary.BigEndian.PutUint64(payload, uint64(i))
		res, err := pub.Publish(ctx, client.Message{ContentType: "application/octet-stream", Payload: payload})
		acked := time.Now()
		if err == nil && res.MessageID != uint64(i+1) {
			err = fmt.Errorf("broadcast %d got id %d", i, res.MessageID)
		}
		return acked, err
	}
	// Open-loop publishes commit in whatever order they reach the server,
	// so message ids need not match i; the swarm counts by id and every id
	// from 1 to the number fired is one of them. They come from a
	// publisher process of its own (publisher.go).
	publisher, err := startPublisher(target.PublisherAddr, account.ID, account.Secret, payloadSize, r.acked)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, publisher.close)
	var fireErr error
	r.fire = func(i int) {
		if err := publisher.fire(i); err != nil && fireErr == nil {
			fireErr = err
		}
	}
	r.settle = func() error { return errors.Join(fireErr, publisher.settle()) }
	return nil
}

// floorRig starts the floor (in mode: poolMode for its pool of writers),
// connects the clients and returns a rig whose
// send triggers the frame Herald would send for the same broadcast.
func floorRig(clients, broadcasts, payloadSize int, wrapper []string, mode ...string) (_ *rig, err error) {
	r := &rig{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	floor, err := startFloor(wrapper, mode...)
	if err != nil {
		return nil, err
	}
	r.proc = floor.proc
	r.closers = append(r.closers, floor.proc.Stop)
	_, rssBefore := r.proc.Usage()
	if r.clients, err = dialSwarm(floor.clientAddr, clients, broadcasts, nil); err != nil {
		return nil, err
	}
	r.closers = append(r.closers, r.clients.close)
	ctl, err := dialControl(floor.controlAddr, clients)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, func() { ctl.Close() })
	_, rssAfter := r.proc.Usage()
	r.rssPerConn = float64(rssAfter-rssBefore) / float64(clients)
	r.clients.base.Store(1)
	payload := make([]byte, payloadSize)
	ack := make([]byte, 1)
	trigger := func(i int) error {
		binary.BigEndian.PutUint64(payload, uint64(i))
		frame := wire.AppendPush(nil, wire.Push{MessageID: uint64(i + 1), Account: 1, TimeMillis: uint64(time.Now().UnixMilli()), ContentType: "application/octet-stream", Payload: payload})
		msg := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
		_, err := ctl.Write(append(msg, frame...))
		return err
	}
	r.send = func(i int) (time.Time, error) {
		if err := trigger(i); err != nil {
			return time.Time{}, err
		}
		_, err := io.ReadFull(ctl, ack)
		return time.Now(), err
	}
	// The floor answers each trigger before writing it out and reads the
	// next only after; unread answers wait in the socket until settle.
	fired, firstErr := 0, error(nil)
	r.fire = func(i int) {
		if err := trigger(i); err != nil && firstErr == nil {
			firstErr = err
		}
		fired++
	}
	r.settle = func() error {
		if firstErr != nil {
			return firstErr
		}
		_, err := io.ReadFull(ctl, make([]byte, fired))
		return err
	}
	return r, nil
}

// dialControl opens the floor's trigger connection and waits until the
// floor has accepted all the clients, so that no broadcast misses one.
func dialControl(addr string, clients int) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("floor control: %w", err)
	}
	var n [4]byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.Write(make([]byte, 4)); err != nil {
			c.Close()
			return nil, err
		}
		if _, err := io.ReadFull(c, n[:]); err != nil {
			c.Close()
			return nil, err
		}
		if int(binary.BigEndian.Uint32(n[:])) >= clients {
			return c, nil
		}
		if time.Now().After(deadline) {
			c.Close()
			return nil, fmt.Errorf("floor accepted %d of %d clients within 30s", binary.BigEndian.Uint32(n[:]), clients)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bothSides runs run on Herald's rig and then on the floor's, each built
// by its function and closed after it; progress, if set, is told which
// side of label is running.
func bothSides[S any](progress io.Writer, label string, herald, floor func() (*rig, error), run func(*rig) (S, error)) (h, f S, err error) {
	return twoSides(progress, label, [2]string{"Herald", "floor"}, herald, floor, run)
}

// twoSides is bothSides with the sides named (for progress and errors).
func twoSides[S any](progress io.Writer, label string, names [2]string, first, second func() (*rig, error), run func(*rig) (S, error)) (h, f S, err error) {
	out, err := sides(progress, label, names[:], []func() (*rig, error){first, second}, run)
	if err != nil {
		return h, f, err
	}
	return out[0], out[1], nil
}

// sides runs run on each rig in turn, one at a time (each closed before
// the next starts), and returns their figures in order.
func sides[S any](progress io.Writer, label string, names []string, rigs []func() (*rig, error), run func(*rig) (S, error)) ([]S, error) {
	out := make([]S, len(rigs))
	for i, start := range rigs {
		if progress != nil {
			fmt.Fprintf(progress, "%s: %s\n", label, names[i])
		}
		r, err := start()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
		out[i], err = run(r)
		r.close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
	}
	return out, nil
}

// importFollowers makes users from..to follow account.
func importFollowers(ctx context.Context, admin *client.Admin, account uint32, from, to int) error {
	var ids strings.Builder
	for u := from; u <= to; u++ {
		fmt.Fprintln(&ids, u)
	}
	_, err := admin.ImportFollowers(ctx, account, strings.NewReader(ids.String()))
	return err
}

// mintTokens mints an hour's client token for each of users 1..n; the
// token of user i+1 is at i.
func mintTokens(ctx context.Context, admin *client.Admin, n int) ([]string, error) {
	tokens := make([]string, n)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range tokens {
		g.Go(func() (err error) {
			tokens[i], err = admin.MintToken(ctx, uint32(i+1), time.Hour)
			return err
		})
	}
	return tokens, g.Wait()
}

// acked records a broadcast's time from fire to PUBLISH_ACK.
func (r *rig) acked(took time.Duration) {
	r.acks.Lock()
	r.acks.took = append(r.acks.took, took)
	r.acks.Unlock()
}

// debugFetch fetches the server's /debug/pprof/<kind> (profile: a CPU
// profile, trace: an execution trace) over d from its admin API.
func debugFetch(target serverproc.Addrs, kind string, d time.Duration, w io.Writer) error {
	url := fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", strings.TrimRight(target.AdminURL, "/"), kind, max(1, int(d.Seconds())))
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+target.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: %s: %s", kind, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// histogram reads a histogram's buckets from the server's /metrics.
func histogram(target serverproc.Addrs, name string) ([]bucket, error) {
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(target.AdminURL, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+target.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out []bucket
	prefix := name + `_bucket{le="`
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(rest, `"} `)
		if !ok {
			return nil, fmt.Errorf("bench: metrics line %q", line)
		}
		var b bucket
		if b.le, err = strconv.ParseFloat(le, 64); err == nil {
			b.count, err = strconv.ParseFloat(count, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("bench: metrics line %q: %w", line, err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bench: no %s in /metrics", name)
	}
	return out, nil
}

// bucketQuantile returns the upper bound of the bucket holding the
// q-quantile (+Inf's is returned as the largest finite bound).
func bucketQuantile(buckets []bucket, q float64) time.Duration {
	total := buckets[len(buckets)-1].count
	for i, b := range buckets {
		if b.count >= q*total {
			if math.IsInf(b.le, 1) && i > 0 {
				b = buckets[i-1]
			}
			return time.Duration(b.le * float64(time.Second))
		}
	}
	return 0
}
