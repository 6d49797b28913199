package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/internal/testutil"
	"herald/storage"
	"herald/wire"
)

// syncLoop runs each task immediately under a mutex: a loop whose
// "goroutine" is whoever holds the lock.
type syncLoop struct{ mu sync.Mutex }

func (l *syncLoop) Execute(fn func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn()
	return nil
}

// recordingSink remembers the message ids it was handed.
type recordingSink struct {
	mu  sync.Mutex
	ids []uint64
}

func (s *recordingSink) Deliver(frames [][]byte, ids []uint64) bool {
	s.mu.Lock()
	s.ids = append(s.ids, ids...)
	s.mu.Unlock()
	return true
}

func (s *recordingSink) got() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.ids...)
}

func newEngine(t *testing.T) *Engine {
	t.Helper()
	store, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	e := New(store, withUnlimited(Config{}))
	t.Cleanup(func() {
		_ = e.Close()
		_ = store.Close()
	})
	return e
}

func seedAccount(t *testing.T, e *Engine, followers ...uint32) uint32 {
	t.Helper()
	ctx := context.Background()
	a, secret, err := createAccount(ctx, e, "acct", unlimited)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.authenticate(a.ID, secret); err != nil {
		t.Fatalf("own secret rejected: %v", err)
	}
	if err := e.authenticate(a.ID, secret+"x"); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := followWait(ctx, e, a.ID, followers); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func TestPublishDeliversToOnlineFollowersOnly(t *testing.T) {
	e := newEngine(t)
	account := seedAccount(t, e, 1, 2, 3)
	loop := &syncLoop{}
	index := e.hub.Register(loop)
	follower, stranger := &recordingSink{}, &recordingSink{}
	_ = loop.Execute(func() {
		index.add(2, follower, false)
		index.add(9, stranger, false)
	})
	res, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: "a", Payload: []byte("hi")})
	if err != nil || res.Total != 3 || res.Recipients != 3 || res.Duplicate {
		t.Fatalf("result %+v, %v", res, err)
	}
	again, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: "a", Payload: []byte("hi")})
	if err != nil || !again.Duplicate || again.MessageID != res.MessageID || again.Total != 3 {
		t.Fatalf("retry %+v, %v", again, err)
	}
	testutil.WaitFor(t, 5*time.Second, "delivery", func() bool { return len(follower.got()) == 1 })
	if got := follower.got(); got[0] != res.MessageID {
		t.Fatalf("follower got %v", got)
	}
	if len(stranger.got()) != 0 {
		t.Fatal("non-follower received a broadcast")
	}
}

func TestPublishErrors(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	_, err := publishWait(ctx, e, PublishRequest{Account: 99, ClientMsgID: "x"})
	if !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("unknown account: %v", err)
	}
	_, err = publishWait(ctx, e, PublishRequest{Account: 1, ClientMsgID: "x", Payload: make([]byte, 300<<10)})
	if !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("large payload: %v", err)
	}
	if _, err := publishWait(ctx, e, PublishRequest{Account: 1}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("no client_msg_id: %v", err)
	}
	if _, err := followWait(ctx, e, 42, []uint32{1}); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("follow unknown account: %v", err)
	}
}

// TestConcurrentPublishesShareCommits races many publishers: every publish
// gets a distinct id, ids are dense, and one delivery per id reaches the sink
// in id order.
func TestConcurrentPublishesShareCommits(t *testing.T) {
	e := newEngine(t)
	account := seedAccount(t, e, 7)
	loop := &syncLoop{}
	index := e.hub.Register(loop)
	sink := &recordingSink{}
	_ = loop.Execute(func() { index.add(7, sink, false) })
	const n = 200
	var wg sync.WaitGroup
	ids := make([]uint64, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: fmt.Sprint(i)})
			if err != nil {
				t.Error(err)
			}
			ids[i] = res.MessageID
		}()
	}
	wg.Wait()
	seen := roaring.New()
	for _, id := range ids {
		seen.Add(uint32(id))
	}
	if seen.GetCardinality() != n || seen.Minimum() != 1 || seen.Maximum() != n {
		t.Fatalf("ids not dense and distinct: %d distinct, %d..%d", seen.GetCardinality(), seen.Minimum(), seen.Maximum())
	}
	testutil.WaitFor(t, 5*time.Second, "deliveries", func() bool { return len(sink.got()) == n })
	for i, id := range sink.got() {
		if id != uint64(i+1) {
			t.Fatalf("delivery %d is id %d: out of order", i, id)
		}
	}
}

func TestCatchUpPagesAndCursor(t *testing.T) {
	store, err := storage.Open("", storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e := New(store, withUnlimited(Config{CatchUpPage: 2}))
	defer e.Close()
	account := seedAccount(t, e, 5)
	for i := 0; i < 3; i++ {
		if _, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: fmt.Sprint(i), Payload: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := e.catchUp(5, 0, false)
	if err != nil || len(page.Frames) != 2 || !page.More || page.Last.At(0) != 2 {
		t.Fatalf("page 1: %d frames more=%v last=%d %v", len(page.Frames), page.More, page.Last, err)
	}
	page, err = e.catchUp(5, page.Last.At(0), false)
	if err != nil || len(page.Frames) != 1 || page.More || page.Last.At(0) != 3 {
		t.Fatalf("page 2: %d frames more=%v last=%d %v", len(page.Frames), page.More, page.Last, err)
	}
	var p wire.Push
	_ = wire.NewParser(0).Feed(page.Frames[0], func(f wire.Frame) (err error) {
		p, err = wire.DecodePush(f.Body)
		return err
	})
	if p.MessageID != 3 || p.Payload[0] != 2 {
		t.Fatalf("push = %+v", p)
	}
	if other, _ := e.catchUp(6, 0, false); len(other.Frames) != 0 {
		t.Fatal("non-follower caught up on a broadcast")
	}
	e.Acknowledge(5, 2, 0)
	if c, _ := e.StoredCursor(5); c != 2 {
		t.Fatalf("cursor = %d", c)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if c, _ := store.Cursor(5); c != 2 {
		t.Fatalf("saved cursor = %d", c)
	}
	if _, err := publishWait(context.Background(), e, PublishRequest{Account: account, ClientMsgID: "late"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// countingSink counts deliveries and calls without allocating.
type countingSink struct{ n, calls int }

func (s *countingSink) Deliver(frames [][]byte, _ []uint64) bool {
	s.n += len(frames)
	s.calls++
	return true
}

// TestDeliveryAllocatesNothing proves the per-delivery path is free of
// allocations: delivering one broadcast to 1,000 online followers allocates
// nothing at all.
func TestDeliveryAllocatesNothing(t *testing.T) {
	var hub Hub
	index := hub.Register(&syncLoop{})
	audience := roaring.New()
	sinks := make([]countingSink, 1000)
	for i := range sinks {
		index.add(uint32(i*3), &sinks[i], false)
		audience.Add(uint32(i * 3))
	}
	audience.AddRange(1<<20, 1<<21) // audience larger than online: walks online
	d := newDelivery(storage.Broadcast{ID: 1, Payload: make([]byte, 256)}, audience, nil)
	one := []*delivery{d}
	allocs := testing.AllocsPerRun(20, func() { index.deliver(one) })
	if allocs != 0 {
		t.Fatalf("%.1f allocations per broadcast to 1,000 sinks, want 0", allocs)
	}
	small := []*delivery{newDelivery(storage.Broadcast{ID: 2}, roaring.BitmapOf(3, 6, 9), nil)}
	allocs = testing.AllocsPerRun(20, func() { index.deliver(small) })
	if allocs != 0 {
		t.Fatalf("%.1f allocations walking a small audience, want 0", allocs)
	}
	three := []*delivery{d, newDelivery(storage.Broadcast{ID: 3}, audience, nil), newDelivery(storage.Broadcast{ID: 4}, audience, nil)}
	allocs = testing.AllocsPerRun(20, func() { index.deliver(three) })
	if allocs != 0 {
		t.Fatalf("%.1f allocations coalescing three broadcasts, want 0", allocs)
	}
	if sinks[1].n != 21+21+63 {
		t.Fatalf("sink 1 got %d deliveries, want 105 (21 runs of each, warm-up included)", sinks[1].n)
	}
	// A published broadcast also carries a job report: the loop's share is
	// one bitmap AND per broadcast, a constant few allocations however many
	// sinks it reaches.
	withJob := func() []*delivery {
		d := newDelivery(storage.Broadcast{ID: 5}, audience, nil)
		d.job = newJob(JobReport{}, func(JobReport) {})
		d.job.start(1 << 30) // never finishes here
		return []*delivery{d}
	}
	few := withJob()
	if allocs := testing.AllocsPerRun(20, func() { index.deliver(few) }); allocs > 8 {
		t.Fatalf("%.1f allocations for a broadcast with a job report to 1,000 sinks, want at most 8", allocs)
	}
}

// queueLoop holds scheduled work until run is called: a loop that is busy.
type queueLoop struct {
	mu    sync.Mutex
	tasks []func()
}

func (l *queueLoop) Execute(fn func()) error {
	l.mu.Lock()
	l.tasks = append(l.tasks, fn)
	l.mu.Unlock()
	return nil
}

func (l *queueLoop) run() int {
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, fn := range tasks {
		fn()
	}
	return len(tasks)
}

// TestQueuedBroadcastsShareOneWrite: broadcasts that arrive while a loop is
// busy are handed to each sink together, in id order, each sink getting
// only those addressed to it.
func TestQueuedBroadcastsShareOneWrite(t *testing.T) {
	var hub Hub
	loop := &queueLoop{}
	index := hub.Register(loop)
	a, b := &countingSink{}, &recordingSink{}
	index.add(1, a, false)
	index.add(2, b, false)
	both := roaring.BitmapOf(1, 2)
	onlyOne := roaring.BitmapOf(1)
	for id, aud := range []*roaring.Bitmap{both, onlyOne, both} {
		hub.dispatch(newDelivery(storage.Broadcast{ID: uint64(id + 1)}, aud, nil))
	}
	if scheduled := loop.run(); scheduled != 1 {
		t.Fatalf("%d drains scheduled for three queued broadcasts, want 1", scheduled)
	}
	if a.calls != 1 || a.n != 3 {
		t.Fatalf("sink a: %d calls, %d frames; want 1 call with 3", a.calls, a.n)
	}
	if got := b.got(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("sink b got %v, want [1 3]", got)
	}
	hub.dispatch(newDelivery(storage.Broadcast{ID: 4}, both, nil))
	if loop.run() != 1 || a.n != 4 || hub.Delivered() != 7 {
		t.Fatalf("after a fourth: a has %d, hub delivered %d", a.n, hub.Delivered())
	}
}

// TestPerAccountOrderIsKept: publishes submitted in order without waiting
// (pipelined), interleaved across accounts on different preparer shards,
// get increasing ids per account in submission order.
func TestPerAccountOrderIsKept(t *testing.T) {
	e := newEngine(t)
	accounts := []uint32{seedAccount(t, e, 1), seedAccount(t, e, 2), seedAccount(t, e, 3)}
	const each = 200
	var mu sync.Mutex
	got := map[uint32][]uint64{}
	var wg sync.WaitGroup
	for i := 0; i < each; i++ {
		for _, account := range accounts {
			wg.Add(1)
			seq := i
			e.Publish(PublishRequest{Account: account, ClientMsgID: fmt.Sprint(seq), Payload: []byte{byte(seq)}},
				func(res PublishResult, err error) {
					defer wg.Done()
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					got[account] = append(got[account], res.MessageID)
					mu.Unlock()
				})
		}
	}
	wg.Wait()
	for _, account := range accounts {
		ids := got[account]
		if len(ids) != each {
			t.Fatalf("account %d: %d acks", account, len(ids))
		}
		for seq := 0; seq < each; seq++ {
			m, err := e.store.Broadcast(ids[seq])
			if err != nil {
				t.Fatal(err)
			}
			if seq > 0 && ids[seq] <= ids[seq-1] {
				t.Fatalf("account %d: publish %d got id %d after %d", account, seq, ids[seq], ids[seq-1])
			}
			if int(m.Payload[0]) != seq%256 {
				t.Fatalf("account %d: id %d holds publish %d, want %d", account, ids[seq], m.Payload[0], seq)
			}
		}
	}
}

// unlimited is a tier without quotas that withUnlimited adds, for tests and
// benchmarks that publish as often as they need.
const unlimited storage.Tier = 200

func withUnlimited(c Config) Config {
	c.Tiers = DefaultTiers()
	c.Tiers[unlimited] = TierPolicy{Name: "unlimited", ID: unlimited}
	return c
}
