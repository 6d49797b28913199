// Package bench measures Herald against the floor: a plain Go program that
// writes the same PUSH frames to the same number of sockets with no
// protocol, no storage and no fan-out engine. DESIGN.md's delivery targets
// are ratios to this floor, measured side by side in one run on the same
// clients.
//
// The burst run (RunBurst; RunSustained at a fixed rate; command cmd/herald-bench) does, for each client
// count: start Herald in its own process, connect the raw-protocol client
// swarm, publish broadcasts one at a time and time each from its
// PUBLISH_ACK to the last client's receipt; then start the floor in its own
// process, connect the same swarm, trigger the same frames and time each
// from the floor's acknowledgement of the trigger to the last receipt.
// With pinning, the server or floor runs on core 0 and the clients on
// core 1.
//
// The storm run (RunStorm) reconnects many offline clients at once to
// Herald and then to two floors with the same client code: one that
// answers each client one small frame (the least a server must do for a
// client that connects and resumes), and the page floor, which answers
// with the bytes Herald sends it (WELCOME, the missed PUSH frames,
// RESUMED), so that what the page's bytes cost is told apart from what
// Herald adds. Meanwhile the clients online throughout and their
// publisher, a process of their own (LiveFlag), time live broadcasts.
package bench
