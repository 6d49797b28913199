// Package fanout is Herald's engine: the publish pipeline, audience
// resolution, the online index, delivery planning and catch-up. It knows
// connections only through the Loop and Sink interfaces and opens no
// sockets.
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
// A connection resumes on its loop: the catch-up scan reads the log up to
// the last committed id, the frames are written, and only then is the user
// added to the loop's online index, all within one callback on the loop.
// A broadcast committed before the scan is found by it; one committed after
// is dispatched to the loop after the scan and finds the user online. A
// Sink drops ids at or below the last it sent, so an overlap is harmless.
package fanout
