// Package loadtest drives a Herald server with real connections and checks
// what arrived. cmd/herald-loadtest is its command line.
//
// Scenarios (Config.Scenario):
//
//   - fanout: seeds Accounts accounts with the same followers (clients
//     beyond Followers follow no one), connects Clients users through the
//     Go SDK, publishes Broadcasts in turn from the accounts one burst at
//     a time (each waits until every client in the audience has it, or
//     the timeout), as fast as acknowledged or at a fixed rate
//     (Config.Pace), to all followers, a tag expression, an id list or a
//     service-tier audience part of which the monthly quota filters out
//     (Config.Audience).
//   - catchup: the followers are offline while Broadcasts are published;
//     then the clients reconnect, all at once or at a set rate, and must
//     catch up.
//   - churn: clients disconnect and reconnect while broadcasts flow, each
//     resuming after the last broadcast it received.
//   - publish: publisher throughput and acknowledgement latency, at a fixed
//     rate (measured from each publish's scheduled time) or as fast as
//     acknowledged, with idempotent retries and the daily quota checked.
//   - notify: notifications (template messages), each to one random
//     connected client, at a fixed rate or as fast as acknowledged, with
//     broadcasts to every follower spread among them: each client must
//     get exactly its notifications and every broadcast, in one id order.
//
// Every scenario verifies: each client in the audience received each
// broadcast exactly once, in id order; no client outside it (not a
// follower, blocked, not selected, filtered by quota) received any; every publish and retry
// was answered as it must be. Any failure is printed and fails the run.
// Latencies are HdrHistogram percentiles; the report can be written as
// JSON and drawn as a PNG chart.
//
// By default the server is embedded: the binary starts itself again as a
// server process (package internal/serverproc, which runs herald serve's
// own code) with a temporary data directory, so the server has its
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
