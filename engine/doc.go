// Package engine is the seam between Herald's network edge and its engine:
// the contract an edge (package server) holds the engine to, and nothing
// else. Package fanout implements it in one process; an edge of a cluster
// implements it over NATS (package cluster, whose core serves a fanout
// engine on the bus). The edge may depend on nothing but
// this contract and the protocol (package wire), so it cannot tell which
// implementation it talks to.
//
// # One calling convention
//
// A method that reads or changes stored state takes one request value and
// a done function, returns at once, and answers by calling done exactly
// once with a result and an error:
//
//	Publish(req PublishRequest, done func(PublishResult, error))
//
// done may run before the method returns (a request refused at once) or
// later on a goroutine of the engine's; it must not block, and it must not
// assume which goroutine it runs on. An edge on an event loop hands the
// answer back to the loop (gnet's Execute) and writes it there. Call turns
// such a method into a blocking call for goroutines that may wait (the
// admin API, tests).
//
// The few methods without done (VerifyToken, MintToken, Acknowledge,
// Open, RegisterLoop, Health) work from memory, never block on storage or the
// network, and are safe to call on an event loop.
//
// # Deliveries
//
// An edge registers each event loop once (RegisterLoop). The engine hands a
// loop's deliveries to Loop.Execute and calls Sink.Deliver on that loop's
// goroutine only, so an edge's per-connection state needs no lock. Frames
// are built once by the engine (with package wire) and shared by every
// connection; a Sink must neither modify nor keep them.
//
// # Catch-up and going live
//
// Resume answers one page of the broadcasts a user missed, scanned off the
// event loop. To go live without a gap, the edge calls LoopIndex.Add on the
// connection's loop with the page's Last: Add refuses (returns false) if
// the loop has been handed deliveries above Last since the scan, in which
// case the edge resumes again from Last. Once Add succeeds, every later
// broadcast reaches the connection live, and a Sink drops ids at or below
// the last it sent, so the overlap between a page and live delivery is
// harmless: a connection never sees ids out of order and misses none.
//
// Ids, cursors and Last are per shard (wire.Cursor): a single engine is
// one shard (0 unless configured otherwise) and a cluster's edge as many
// as the cluster has cores; each rule above holds in each shard, and ids
// of different shards are not ordered.
package engine
