// Package loadtest drives a Herald server with real connections and checks
// what arrived. cmd/herald-loadtest is its command line.
//
// Scenarios (Config.Scenario):
//
//   - fanout: seeds one account with followers, connects Clients of them
//     through the Go SDK, publishes Broadcasts one burst at a time (each
//     waits until every client in the audience has it, or the timeout), as
//     fast as acknowledged or at a fixed rate (Config.Pace), to all
//     followers, a tag expression or an id list (Config.Audience).
//   - catchup: the followers are offline while Broadcasts are published;
//     then every client reconnects at once and must catch up.
//   - churn: clients disconnect and reconnect while broadcasts flow, each
//     resuming after the last broadcast it received.
//   - publish: publisher throughput and acknowledgement latency, at a fixed
//     rate (measured from each publish's scheduled time) or as fast as
//     acknowledged, with idempotent retries and the daily quota checked.
//
// Every scenario verifies: each client in the audience received each
// broadcast exactly once, in id order; no client outside it (not a
// follower, blocked, not selected) received any; every publish and retry
// was answered as it must be. Any failure is printed and fails the run.
// Latencies are HdrHistogram percentiles; the report can be written as
// JSON and drawn as a PNG chart.
//
// By default the server is embedded: the binary starts itself again as a
// server process with a temporary data directory, so the server has its
// own file-descriptor budget and its CPU and memory are measured apart
// from the clients'. Clients are spread over source addresses 127.0.0.x.
// One process holds at most Config.ClientsPerProcess clients (by default
// its open-file limit less a reserve); a run with more spreads them over
// worker processes, the same binary started again with WorkerFlag, each
// holding a share and sending back what its clients received to be
// verified with the rest. A run that cannot fit (the embedded server holds
// every connection in one process; the churn scenario keeps its clients
// in one) is refused up front with what to change.
package loadtest
