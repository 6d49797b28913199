// Package loadtest drives a Herald server with real connections and checks
// what arrived. cmd/herald-loadtest is its command line.
//
// The fan-out run seeds one account with followers, connects Clients of
// them through the Go SDK, publishes Broadcasts one burst at a time (each
// waits until every client has it, or until the timeout), and then verifies
// that every client received every broadcast exactly once, in id order.
// Loss, duplicates and disorder are reported and fail the run.
//
// By default the server is embedded: the test binary starts itself again as
// a server process with a temporary data directory, so the server has its
// own file-descriptor budget and its CPU and memory are measured apart from
// the clients'.
package loadtest
