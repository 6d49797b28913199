// Package server is Herald's network edge: one gnet engine serving the
// client and publisher listeners on shared multicore event loops, per-
// connection state and frame handling (frames are parsed by package wire),
// token and secret authentication, heartbeats and the auth timeout, the
// slow-consumer cap, and the HTTP admin port.
//
// # Threading
//
// Everything about a connection — its parser, its state, every byte written
// to it — is touched only on the event loop that owns it. Work finishing on
// other goroutines (a publish acknowledged by the fan-out writer, a FOLLOW
// made durable) comes back to the loop through loopState.execute, never
// through gnet's AsyncWrite, so that all writes to a connection happen in
// one order on one goroutine.
package server
