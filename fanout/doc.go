// Package fanout is Herald's engine: it implements package engine's
// contract over its data directory (the store, the token keys): the
// publish pipeline, audience resolution, the online index, delivery
// planning and catch-up. It knows connections only through the contract's
// Loop and Sink and opens no sockets. It is the only package that uses
// package storage.
//
// # The writer
//
// Every mutation (account creation, follows, publishes) is an op handed to
// one writer goroutine. The writer takes every op that is waiting, applies
// them in arrival order to one storage.Batch (which reads its own writes),
// commits it with a single fsync, and only then answers each op: many
// publishes share one fsync (group commit), message ids are allocated in
// commit order, and a broadcast becomes visible to catch-up readers before
// any of it is delivered live.
//
// # Delivery
//
// After a commit the writer dispatches each broadcast, in id order, to
// every registered loop: the PUSH frame is encoded (and, for clients that
// accept it, compressed) once, and the same bytes are handed to each target
// Sink, where target = audience ∧ loop's online users. Broadcasts queue per
// loop; one drain on the loop's goroutine (Loop.Execute) writes all that are
// queued, a connection's frames in one call (one writev), so the online
// index needs no lock, per-loop order is id order, and under load syscalls
// per delivery fall. Each loop reports which recipients it reached; when all
// have, the broadcast's job report (JOB_DONE) is complete.
//
// RETRACTED notices travel the same way as deliveries with id 0: control
// frames that connections write regardless of the ids they have sent.
//
// # Catch-up and live order
//
// Resume reads a page of the broadcasts a user missed. The newest
// broadcasts are kept in memory as live delivery built them (recent.go:
// their frames and frozen audiences, 64 MiB by default), so a recent
// cursor's page is answered within the call, from memory, with the very
// bytes live clients got; an older cursor's is read from the log on a
// reader goroutine (readers.go), never on an event loop. The log read
// probes only the broadcasts of the accounts the user follows or left,
// and those that listed the user (storage's catch-up indexes): a publish
// records the newest id committed before its audience was resolved
// (publishOp.resolved), which tells catch-up whether a follower who left
// can be in it.
//
// The page covers ids up to its Last. The connection goes online on its
// loop with LoopIndex.Add(…, Last, Epoch): if the loop has drained a
// broadcast above Last since, Add refuses and the edge reads the gap
// before going online; a broadcast drained after Add finds the user
// online. Add also writes the RETRACTED notices drained since the first
// scan began (Epoch counts them), for broadcasts the scan may have
// included. A Sink drops ids at or below the last it sent, so an overlap
// between a page and live delivery is harmless: a connection never sees
// ids out of order and misses none.
//
// # Acknowledgements and reach
//
// Acknowledge and Open only record (acks.go); the saver goroutine turns
// them, once a second, into cursors and analytics in one storage batch:
// an acknowledgement delivers the broadcasts addressed to the user
// between the cursor already saved and the acknowledged id (found in the
// recent broadcasts' audiences, else in the log), so each user counts
// once per broadcast whatever repeats it, and a crash loses a cursor and
// what it counted together. A publish stores the broadcast's analytics
// record and the day's figures in its own batch (reach.go answers them).
package fanout
