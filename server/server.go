package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"herald/engine"
)

// Server is Herald's network edge: gnet listeners and the admin port,
// serving connections on an engine it does not own.
type Server struct {
	cfg     Config
	engine  engine.Engine
	handler *handler
	// gnet are the engines: the client listener's loops, and the
	// publisher listener's own loop (so acknowledgements never queue
	// behind deliveries); gnetDone gets each one's end.
	gnet       []gnet.Engine
	gnetDone   chan error
	admin      *http.Server
	adminLn    net.Listener
	adminToken string
	// demoOrigins are the demo page's origins (allowDemoOrigins).
	demoOrigins atomic.Pointer[[]string]
	// shards is how many shards the engine spans (engine.Health.Shards):
	// a version 1 client cannot resume on more than one.
	shards  int
	tick    time.Duration
	metrics metrics
	started time.Time
	// partialBytes is what every connection's parser holds for frames
	// received in part or waiting for an earlier request's answer (bounded
	// by Config.MaxPartialBytes); conns counts authenticated connections
	// per user and account.
	partialBytes atomic.Int64
	conns        connCounts
	reclaim      reclaimer
	// disconnectLog limits the lines logged for closed connections.
	disconnectLog rateLimit
	closeOnce     sync.Once
	closeErr      error
}

// Start starts the event loops and the admin port on eng and returns once
// both are accepting connections. The caller keeps ownership of eng and
// closes it after Close.
func Start(cfg Config, eng engine.Engine) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	var err error
	if err = resolvePorts(&cfg.ClientAddr, &cfg.PublisherAddr); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, engine: eng, gnetDone: make(chan error, 2), tick: time.Second, adminToken: cfg.AdminToken, shards: eng.Health().Shards, started: time.Now()}
	if s.adminToken == "" {
		if s.adminToken, err = RandomToken(); err != nil {
			return nil, err
		}
	}
	s.disconnectLog.perSecond = disconnectLogLimit
	s.metrics.init()
	// The timeout sweep runs often enough to close a connection within a
	// quarter of its shortest timeout late (and at least once a second).
	s.tick = max(min(cfg.Heartbeat, cfg.AuthTimeout, cfg.FrameTimeout)/4, 10*time.Millisecond)
	s.tick = min(s.tick, time.Second)
	if err := s.startLoops(); err != nil {
		return nil, err
	}
	if err := s.startAdmin(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// RandomToken returns 24 random bytes, base64url: an admin token.
func RandomToken() (string, error) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// ObserveCommit records one of the engine's group commits in /metrics (the
// engine's commit hook, fanout.Config.ObserveCommit).
func (s *Server) ObserveCommit(took time.Duration, ops int) { s.metrics.observeCommit(took, ops) }

func (s *Server) startLoops() error {
	_, publisherPort, _ := net.SplitHostPort(s.cfg.PublisherAddr)
	port, _ := strconv.Atoi(publisherPort)
	s.handler = &handler{srv: s, publisherPort: port, booted: make(chan gnet.Engine, 2)}
	s.handler.mu.loops = make(map[gnet.EventLoop]*loopState)
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		// As net.Listen does: a restarted server rebinds its port at once
		// instead of waiting out the old connections' TIME_WAIT.
		gnet.WithReuseAddr(true),
		gnet.WithLogger(gnetLogger{log: s.cfg.Logger}),
	}
	// Each client loop accepts on a listener of its own (SO_REUSEPORT),
	// the kernel spreading connections among them: a connection is read
	// on the loop that accepted it, with no hand-off from an accepting
	// reactor to a loop in between (a reconnect storm's clients are
	// answered a round of the loop sooner; see docs/BENCHMARKS.md).
	clientOpts := append(slices.Clone(opts), gnet.WithTicker(true), gnet.WithReusePort(true)) // the sweep covers every loop
	if s.cfg.Loops > 0 {
		clientOpts = append(clientOpts, gnet.WithNumEventLoop(s.cfg.Loops))
	}
	// SO_REUSEPORT would let a second server (of the same user) bind the
	// client port beside this one and take part of its clients; a plain
	// listener on the port first fails if anything holds it.
	if err := portFree(s.cfg.ClientAddr); err != nil {
		return fmt.Errorf("server: listen on %v: %w", s.cfg.ClientAddr, err)
	}
	// Publishers get a loop of their own: a PUBLISH_ACK (and the next
	// PUBLISH read) never waits behind a loop's delivery to thousands of
	// clients.
	publisherOpts := append(slices.Clone(opts), gnet.WithNumEventLoop(1))
	for _, l := range []struct {
		addr string
		opts []gnet.Option
	}{{s.cfg.ClientAddr, clientOpts}, {s.cfg.PublisherAddr, publisherOpts}} {
		addrs := []string{"tcp://" + l.addr}
		go func() { s.gnetDone <- gnet.Rotate(s.handler, addrs, l.opts...) }()
		select {
		case eng := <-s.handler.booted:
			s.gnet = append(s.gnet, eng)
		case err := <-s.gnetDone:
			s.stopEngines()
			return fmt.Errorf("server: listen on %v: %w", addrs, err)
		}
	}
	return nil
}

// stopEngines stops the gnet engines started and waits for them.
func (s *Server) stopEngines() error {
	var errs []error
	for _, eng := range s.gnet {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, eng.Stop(ctx))
		cancel()
	}
	for range s.gnet {
		<-s.gnetDone
	}
	s.gnet = nil
	return errors.Join(errs...)
}

// portFree reports an error if addr cannot be listened on alone (another
// socket, SO_REUSEPORT or not, is bound to it), and leaves it free.
func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// resolvePorts replaces port 0 in each address by a port that is free
// now, a different one for each: every probe listener stays open until
// all are chosen (one closed first could hand its port to the next).
func resolvePorts(addrs ...*string) error {
	var probes []net.Listener
	defer func() {
		for _, ln := range probes {
			ln.Close()
		}
	}()
	for _, addr := range addrs {
		host, port, err := net.SplitHostPort(*addr)
		if err != nil {
			return fmt.Errorf("%w: address %q: %v", ErrConfig, *addr, err)
		}
		if port != "0" {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return err
		}
		probes = append(probes, ln)
		*addr = ln.Addr().String()
	}
	return nil
}

// ClientAddr, PublisherAddr and AdminAddr are the addresses listened on.
func (s *Server) ClientAddr() string    { return s.cfg.ClientAddr }
func (s *Server) PublisherAddr() string { return s.cfg.PublisherAddr }
func (s *Server) AdminAddr() string     { return s.adminLn.Addr().String() }

// AdminToken is the bearer token the admin API accepts.
func (s *Server) AdminToken() string { return s.adminToken }

// PartialFrameBytes returns the memory all connections hold for frames
// received in part (bounded by Config.MaxPartialBytes).
func (s *Server) PartialFrameBytes() int64 { return s.partialBytes.Load() }

// Connections returns the number of open connections on both listeners.
func (s *Server) Connections() int64 { return s.metrics.connectionsTotal() }

// Close tells every connection SHUTTING_DOWN and stops the listeners and
// the admin port. The engine is the caller's to close.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.admin != nil {
			// Shutdown waits for in-flight requests; connections a client
			// dialled but never used would hold it for 5 s, so after a
			// short grace the rest are closed outright.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if s.admin.Shutdown(ctx) != nil {
				_ = s.admin.Close()
			}
			cancel()
		}
		s.handler.shutdown()
		errs = append(errs, s.stopEngines())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// gnetLogger passes gnet's warnings and errors to the server's logger and
// drops its informational chatter.
type gnetLogger struct{ log *slog.Logger }

func (gnetLogger) Debugf(string, ...any) {}
func (gnetLogger) Infof(string, ...any)  {}
func (l gnetLogger) Warnf(format string, args ...any) {
	l.log.Warn("gnet: " + fmt.Sprintf(format, args...))
}
func (l gnetLogger) Errorf(format string, args ...any) {
	l.log.Error("gnet: " + fmt.Sprintf(format, args...))
}
func (l gnetLogger) Fatalf(format string, args ...any) {
	l.log.Error("gnet: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
