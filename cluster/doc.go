// Package cluster runs Herald on NATS: each core serves one engine (package
// fanout) owning one shard of the accounts on the bus, and edges hold the
// connections, each with engine.Engine over the bus (Edge), so package
// server runs on an edge unchanged.
//
// A core answers the edges' requests for its shard (subject
// req.<shard>.<method>: the contract's methods, binary-encoded, errors
// mapped back to the engine's sentinels) and relays every committed
// broadcast and retraction once, on a subject every edge reads, as the
// frames live delivery sends and the frozen audience (split into parts by
// user id ranges when the bitmap would not fit one NATS message). It is a
// fanout.Relay: the engine counts it as one loop, and a broadcast's job
// report waits for the edges' outcomes.
//
// An edge sends each request to the core of its account's shard
// (wire.AccountShard), a catch-up to every core at once (edge_resume.go:
// one page of every shard's, each in id order), and acknowledgements, in
// batches, to the core of each id's shard. It delivers each relay on its
// own loops through a fanout.Hub, with the same encode-once path and the
// same going-live check as one process: its pages' epoch is its own count
// of retractions. Per core it knows the last broadcast id it delivered; a
// relay or a heartbeat with a higher one shows a gap, and it fetches the
// missing broadcasts from that core and delivers them in id order first. It
// verifies client tokens with every core's token keys, fetched at start
// and after a rotation, and mints them with the first core's.
//
// docs/CLUSTER.md describes the shards, the subjects, the failure cases and
// the NATS permissions each role needs.
package cluster
