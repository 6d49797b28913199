// Package natstest runs a real NATS server inside a test process, on a
// random port of 127.0.0.1, for the cluster's tests.
package natstest

import (
	"net"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Server is an embedded NATS server that can be stopped and started again
// on the same port.
type Server struct {
	t    testing.TB
	opts natsserver.Options
	srv  *natsserver.Server
}

// Start runs a NATS server until the test ends; configure may change its
// options (authorization, payload limit) before it starts.
func Start(t testing.TB, configure func(*natsserver.Options)) *Server {
	t.Helper()
	s := &Server{t: t, opts: natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}}
	if configure != nil {
		configure(&s.opts)
	}
	s.start()
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	opts := s.opts
	srv, err := natsserver.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("nats server did not start")
	}
	s.srv = srv
}

// URL is the server's client URL.
func (s *Server) URL() string { return s.srv.ClientURL() }

// Stop shuts the server down (a no-op once stopped).
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server and starts a fresh one on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}
