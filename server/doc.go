// Package server is Herald's network edge: gnet engines serving the
// client listener on multicore event loops, each accepting on a listener
// of its own (SO_REUSEPORT, the port still refused to anything else), and
// the publisher listener on a loop of its own (so acknowledgements never
// queue behind deliveries), per-
// connection state and frame handling (frames are parsed by package wire),
// heartbeats and the auth timeout, connection limits, one capped outbound
// path per connection, and the HTTP admin port. It knows the engine only
// through the contract in package engine (it imports neither fanout nor
// storage), so the engine behind it may be in the same process or, in a
// cluster, across a message bus.
//
// # Threading
//
// Everything about a connection — its parser, its state, every byte written
// to it — is touched only on the event loop that owns it. Engine answers
// arriving on other goroutines (a publish acknowledged by the writer, a
// FOLLOW made durable, a catch-up page read from the log) come back to the
// loop through loopState.Execute, never through gnet's AsyncWrite, so that
// all writes to a connection happen in one order on one goroutine.
//
// # Order
//
// A connection's frames are handled in the order they arrive. While a
// publisher's HELLO or a RESUME waits for the engine, later frames are held
// (conn.hold) and handled after the answer; while a connection handles one
// read or waits, what it writes is gathered and goes out in one writev
// (conn.cork). Every byte but the final ERROR passes the slow-consumer cap
// (conn.enqueue).
package server
