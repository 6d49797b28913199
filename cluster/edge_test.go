package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"herald/engine"
	"herald/fanout"
	"herald/internal/natstest"
	"herald/internal/testtier"
	"herald/wire"
)

// pair is a core and an edge on one NATS server, with one loop on the
// edge and a sink for user 7, which follows the account.
type pair struct {
	t       *testing.T
	eng     *fanout.Engine
	core    *Core
	edge    *Edge
	edgeNC  *nats.Conn
	nats    *natstest.Server
	account uint32
	sink    *sink
	loop    *loop
	index   engine.LoopIndex
}

// loop runs each function on its own goroutine, one at a time.
type loop struct{ mu sync.Mutex }

func (l *loop) Execute(fn func()) error {
	go func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		fn()
	}()
	return nil
}

// sink records the ids delivered to it.
type sink struct{ ids chan uint64 }

func (s *sink) Deliver(_ [][]byte, ids []uint64) bool {
	for _, id := range ids {
		s.ids <- id
	}
	return true
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func startPair(t *testing.T) *pair { return startPairWith(t, nil) }

func startPairWith(t *testing.T, configure func(*natsserver.Options)) *pair {
	t.Helper()
	p := &pair{t: t, nats: natstest.Start(t, configure)}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
	var err error
	if p.eng, err = fanout.Open(fanout.Config{InMemory: true, Tiers: testtier.Tiers(), Logger: logger}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.eng.Close() })
	// Heartbeats every 20 ms find gaps fast; an edge is not given up on
	// for a slow heartbeat on a loaded machine.
	if p.core, err = StartCore(CoreConfig{Conn: connect(t, p.nats.URL()), Engine: p.eng, Heartbeat: 20 * time.Millisecond, EdgeTimeout: time.Minute, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.core.Close)
	p.edgeNC = connect(t, p.nats.URL())
	if p.edge, err = StartEdge(EdgeConfig{Conn: p.edgeNC, Heartbeat: 20 * time.Millisecond, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.edge.Close)
	ctx := context.Background()
	a, err := engine.Call(ctx, p.eng.CreateAccount, engine.NewAccount{Name: "a", Tier: testtier.Unlimited.Name})
	if err != nil {
		t.Fatal(err)
	}
	p.account = a.ID
	if _, err := engine.Call(ctx, p.eng.Follow, engine.Membership{Account: a.ID, Users: []uint32{7}}); err != nil {
		t.Fatal(err)
	}
	for p.edge.Health().StorageError != nil || p.core.Edges() == 0 {
		time.Sleep(5 * time.Millisecond) // heartbeats are time-driven
	}
	l := &loop{}
	index := p.edge.RegisterLoop(l)
	p.loop, p.index = l, index
	p.sink = &sink{ids: make(chan uint64, 100)}
	added := make(chan bool)
	_ = l.Execute(func() { added <- index.Add(7, p.sink, false, nil, 0) })
	if !<-added {
		t.Fatal("the sink did not go online")
	}
	return p
}

func (p *pair) publish() uint64 {
	p.t.Helper()
	r, err := engine.Call(context.Background(), p.eng.Publish, engine.PublishRequest{Account: p.account, ClientMsgID: fmt.Sprint(time.Now().UnixNano()), Payload: []byte("x")})
	if err != nil {
		p.t.Fatal(err)
	}
	return r.MessageID
}

func (p *pair) expect(ids ...uint64) {
	p.t.Helper()
	for _, want := range ids {
		select {
		case got := <-p.sink.ids:
			if got != want {
				p.t.Fatalf("delivered %d, want %d", got, want)
			}
		case <-time.After(10 * time.Second):
			p.t.Fatalf("%d not delivered", want)
		}
	}
}

// deaf makes the edge miss what the core relays while fn runs.
func (p *pair) deaf(fn func()) {
	p.t.Helper()
	bus := p.edge.subs[0]
	if err := bus.Unsubscribe(); err != nil {
		p.t.Fatal(err)
	}
	fn()
	// Wait until the core has put them on the bus, and the server has them.
	for p.core.lastRelayed.Load() < p.eng.Health().LastMessageID {
		time.Sleep(time.Millisecond)
	}
	if err := p.core.nc.Flush(); err != nil {
		p.t.Fatal(err)
	}
	var err error
	if p.edge.subs[0], err = p.edgeNC.Subscribe(p.edge.subj.coreAll(0), func(m *nats.Msg) { p.edge.onCore(p.edge.links[0], m) }); err != nil {
		p.t.Fatal(err)
	}
	if err := p.edgeNC.Flush(); err != nil {
		p.t.Fatal(err)
	}
}

// TestEdgeFetchesWhatItMissed: broadcasts the edge missed on the bus are
// fetched from the core and delivered in id order, before the next relay
// (seen by its id) or at the core's next heartbeat (seen by its last id).
func TestEdgeFetchesWhatItMissed(t *testing.T) {
	p := startPair(t)
	p.expect(p.publish())
	var missed []uint64
	p.deaf(func() { missed = append(missed, p.publish(), p.publish()) })
	next := p.publish()
	p.expect(append(missed, next)...)
	if got := p.edge.Stats().Recovered; got != 2 {
		t.Fatalf("recovered %d, want 2", got)
	}
	p.deaf(func() { missed = []uint64{p.publish()} })
	p.expect(missed...) // no relay follows: the heartbeat shows the gap
	if s := p.edge.Stats(); s.Recovered != 3 || s.Lost != 0 || s.Refused != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRogueBusMessagesAreRefused: messages that do not decode, on every
// subject the nodes read, are refused and counted; nothing is delivered
// and a malformed request is answered BAD_REQUEST.
func TestRogueBusMessagesAreRefused(t *testing.T) {
	p := startPair(t)
	rogue := connect(t, p.nats.URL())
	s := subjects{DefaultCluster}
	junk := [][]byte{nil, {busVersion}, {2, 0, 0}, {busVersion, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	for _, b := range junk {
		for _, subject := range []string{s.relay(0), s.coreAlive(0), s.report(0), s.acks(0), s.edgeAlive()} {
			if err := rogue.Publish(subject, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A relay that decodes but says nothing sensible: a part beyond its
	// count.
	bad := encodeRelay(relayMsg{Instance: 1, Part: 3, Parts: 2, Relayed: fanout.Relayed{ID: 99, Plain: []byte("x")}})
	if err := rogue.Publish(s.relay(0), bad); err != nil {
		t.Fatal(err)
	}
	// Well formed, but another shard's broadcast and heartbeat on shard
	// 0's subjects; and an acknowledgement of another shard's id.
	foreign := encodeRelay(relayMsg{Instance: 1, Parts: 1, Relayed: fanout.Relayed{ID: wire.ShardBase(1) + 1, Plain: []byte("x"), Audience: roaring.BitmapOf(7)}})
	for subject, b := range map[string][]byte{
		s.relay(0):     foreign,
		s.coreAlive(0): encodeCoreAlive(coreAlive{Instance: 1, Last: wire.ShardBase(1) + 1}),
		s.acks(0):      encodeAcks([]ack{{User: 7, ID: wire.ShardBase(1) + 1}}),
	} {
		if err := rogue.Publish(subject, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range junk {
		msg, err := rogue.Request(s.req(0, mPublish), b, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		d, err := newDec(msg.Data)
		if err != nil || d.u8() != answerError {
			t.Fatalf("answer to junk: %x", msg.Data)
		}
		if err := decError(d); !isBadRequest(err) {
			t.Fatalf("answer to junk: %v", err)
		}
	}
	id := p.publish()
	p.expect(id) // and nothing before it
	if err := rogue.Flush(); err != nil {
		t.Fatal(err)
	}
	for p.edge.Stats().Refused < uint64(2*len(junk)+3) || p.core.Refused() < uint64(4*len(junk)+1) {
		time.Sleep(5 * time.Millisecond) // the nodes count asynchronously
	}
}

func isBadRequest(err error) bool { return err != nil && errors.Is(err, engine.ErrBadRequest) }

// counter counts what is delivered to it.
type counter struct{ n atomic.Int64 }

func (c *counter) Deliver(frames [][]byte, _ []uint64) bool {
	c.n.Add(int64(len(frames)))
	return true
}

// TestLargeOutcomeIsReportedInParts: an edge whose online followers of a
// broadcast form a bitmap larger than a bus message reports them in
// several messages, and the job report counts every one.
func TestLargeOutcomeIsReportedInParts(t *testing.T) {
	p := startPairWith(t, func(o *natsserver.Options) { o.MaxPayload = 16 << 10 })
	const followers = 200_000
	users := make([]uint32, 0, followers)
	for u := uint32(1); u <= followers; u++ {
		users = append(users, u)
	}
	ctx := context.Background()
	if _, err := engine.Call(ctx, p.eng.Follow, engine.Membership{Account: p.account, Users: users}); err != nil {
		t.Fatal(err)
	}
	// Every other follower online: bitmap containers of 8 KiB each, about
	// 24 KiB, while the audience (a run) is a few bytes.
	sink := &counter{}
	added := make(chan struct{})
	_ = p.loop.Execute(func() {
		for u := uint32(2); u <= followers; u += 2 {
			p.index.Add(u, sink, false, nil, 0)
		}
		close(added)
	})
	<-added
	online := int64(followers/2 + 1) // and user 7's sink
	done := make(chan engine.JobReport, 1)
	r, err := engine.Call(ctx, p.eng.Publish, engine.PublishRequest{Account: p.account, ClientMsgID: "big", Payload: []byte("x"),
		OnJobDone: func(r engine.JobReport) { done <- r }})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case report := <-done:
		if int64(report.SentLive) != online || report.MessageID != r.MessageID {
			t.Fatalf("job report %+v, want %d sent live", report, online)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no job report")
	}
	if got := sink.n.Load(); got != online-1 {
		t.Fatalf("delivered %d, want %d", got, online-1)
	}
}
