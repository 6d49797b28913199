package server

import (
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"herald/engine"
	"herald/wire"
)

// metrics are the server's counters. The hot paths only add to atomics;
// the Prometheus registry reads them when scraped, and /healthz reports
// them too.
type metrics struct {
	connections     [2]atomic.Int64 // by role
	publishes       atomic.Uint64
	caughtUp        atomic.Uint64
	slowConsumers   atomic.Uint64
	closedWithError atomic.Uint64
	// filtered counts the followers left out of broadcasts (not dry runs
	// nor duplicates), by reason: not selected, blocked, at the cap.
	filtered [3]atomic.Uint64
	// errors counts the ERROR frames sent, by code (every code of
	// wire.Codes, so the map is never written after init).
	errors map[wire.Code]*atomic.Uint64
	// Set by the engine's writer through Server.ObserveCommit.
	commitSeconds prometheus.Histogram
	commitOps     prometheus.Histogram
	// fanoutSeconds: PUBLISH received → every live recipient written (the
	// job report); catchUpSeconds: RESUME received → the connection live.
	fanoutSeconds  prometheus.Histogram
	catchUpSeconds prometheus.Histogram
	// publishAckSeconds: PUBLISH received → its PUBLISH_ACK (or ERROR)
	// queued on the connection, the server's share of a publisher's
	// acknowledgement latency.
	publishAckSeconds prometheus.Histogram
}

// countError counts one ERROR frame of code.
func (m *metrics) countError(code wire.Code) {
	if n := m.errors[code]; n != nil {
		n.Add(1)
	}
}

func (m *metrics) connectionsTotal() int64 {
	return m.connections[roleClient].Load() + m.connections[rolePublisher].Load()
}

func (m *metrics) init() {
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "herald_commit_seconds",
		Help:    "Duration of one group commit to the store, fsync included.",
		Buckets: prometheus.ExponentialBuckets(100e-6, 2, 14), // 100 µs … 0.8 s
	})
	m.commitOps = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "herald_commit_ops",
		Help:    "Requests (publishes, follows, account changes) sharing one group commit.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024
	})
	m.fanoutSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "herald_fanout_seconds",
		Help:    "From a PUBLISH received to its broadcast written to every recipient online (its job report).",
		Buckets: prometheus.ExponentialBuckets(500e-6, 2, 18), // 0.5 ms … 65 s
	})
	m.publishAckSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "herald_publish_ack_seconds",
		Help:    "From a PUBLISH received to its PUBLISH_ACK or ERROR queued to the publisher: validation, audience, the durable commit and the hand-offs between them.",
		Buckets: prometheus.ExponentialBuckets(100e-6, 1.5, 25), // 0.1 ms … 8.4 s
	})
	m.catchUpSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "herald_catchup_seconds",
		Help:    "From a RESUME received to the connection live: every page of its catch-up written.",
		Buckets: prometheus.ExponentialBuckets(100e-6, 2, 18), // 0.1 ms … 13 s
	})
	m.errors = make(map[wire.Code]*atomic.Uint64)
	for _, c := range wire.Codes() {
		m.errors[c] = new(atomic.Uint64)
	}
}

// observeCommit is the engine's commit hook.
func (m *metrics) observeCommit(took time.Duration, ops int) {
	m.commitSeconds.Observe(took.Seconds())
	m.commitOps.Observe(float64(ops))
}

// registry builds the Prometheus registry for s. Each server has its own,
// so several can run in one process.
func (s *Server) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	gauge := func(name, help string, labels prometheus.Labels, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	m := &s.metrics
	health := s.engine.Health
	for _, c := range wire.Codes() {
		n := m.errors[c]
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "herald_errors_total",
			Help:        "ERROR frames sent, by code: answers to requests and the ones that close a connection.",
			ConstLabels: prometheus.Labels{"code": c.String()}}, func() float64 { return float64(n.Load()) }))
	}
	reg.MustRegister(m.fanoutSeconds, m.catchUpSeconds, m.publishAckSeconds)
	for i, reason := range []string{"not_selected", "blocked", "capped"} {
		n := &m.filtered[i]
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "herald_filtered_total",
			Help:        "Followers left out of the broadcasts published, by reason: not in the list or tags, blocked, at the per-follower cap.",
			ConstLabels: prometheus.Labels{"reason": reason}}, func() float64 { return float64(n.Load()) }))
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("herald_connections", "Open connections.", prometheus.Labels{"listener": "client"},
			func() float64 { return float64(m.connections[roleClient].Load()) }),
		gauge("herald_connections", "Open connections.", prometheus.Labels{"listener": "publisher"},
			func() float64 { return float64(m.connections[rolePublisher].Load()) }),
		counter("herald_publishes_total", "PUBLISH requests received.", func() float64 { return float64(m.publishes.Load()) }),
		counter("herald_deliveries_total", "PUSH frames written to live connections.", func() float64 { return float64(health().Delivered) }),
		counter("herald_delivered_bytes_total", "Bytes of PUSH frames written to live connections.", func() float64 { return float64(health().DeliveredBytes) }),
		counter("herald_catchup_pushes_total", "PUSH frames written by catch-up (RESUME).", func() float64 { return float64(m.caughtUp.Load()) }),
		counter("herald_slow_consumer_disconnects_total", "Connections closed with SLOW_CONSUMER.", func() float64 { return float64(m.slowConsumers.Load()) }),
		counter("herald_connections_closed_with_error_total", "Connections closed with an ERROR frame (any 2xxx or 3xxx code).", func() float64 { return float64(m.closedWithError.Load()) }),
		gauge("herald_partial_frame_bytes", "Memory held for frames received in part, over all connections (bounded by --max-partial-bytes).", nil,
			func() float64 { return float64(s.partialBytes.Load()) }),
		gauge("herald_storage_writable", "1 while the store accepts writes; 0 when the disk is at its reserve or a write failed.", nil,
			func() float64 {
				if health().StorageError != nil {
					return 0
				}
				return 1
			}),
		gauge("herald_disk_free_bytes", "Free bytes on the data directory's filesystem at the last reading.", nil,
			func() float64 { return float64(health().DiskFree) }),
		gauge("herald_disk_reserve_bytes", "Free bytes kept on the filesystem: writes are refused below it.", nil,
			func() float64 { return float64(health().DiskReserve) }),
		gauge("herald_last_message_id", "Highest committed message id.", nil, func() float64 { return float64(health().LastMessageID) }),
		m.commitSeconds,
		m.commitOps,
	)
	if health().Bus != nil {
		bus := func() engine.BusHealth { return *health().Bus }
		reg.MustRegister(
			gauge("herald_bus_connected", "1 while this edge's NATS connection is up.", nil, func() float64 {
				if bus().Connected {
					return 1
				}
				return 0
			}),
			gauge("herald_bus_core_silence_seconds", "Time since the core's last heartbeat (-1: none yet).", nil,
				func() float64 { return bus().CoreSilence.Seconds() }),
			gauge("herald_bus_lag_messages", "Broadcasts the core has relayed that this edge has not delivered yet.", nil,
				func() float64 { return float64(bus().Lag) }),
			counter("herald_bus_refused_total", "Bus messages refused: malformed, or answers that do not fit their request.",
				func() float64 { return float64(bus().Refused) }),
			counter("herald_bus_recovered_total", "Broadcast parts missed on the bus and fetched from the core.",
				func() float64 { return float64(bus().Recovered) }),
			counter("herald_bus_lost_total", "Broadcast parts missed on the bus that the core could not give (delivered on catch-up instead).",
				func() float64 { return float64(bus().Lost) }),
		)
	}
	return reg
}

// observability mounts /metrics (open, like /healthz) and /debug/pprof
// (admin token required: profiles expose internals).
func (s *Server) observability(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /debug/pprof/", s.authorized(pprof.Index))
	mux.HandleFunc("GET /debug/pprof/cmdline", s.authorized(pprof.Cmdline))
	mux.HandleFunc("GET /debug/pprof/profile", s.authorized(pprof.Profile))
	mux.HandleFunc("GET /debug/pprof/symbol", s.authorized(pprof.Symbol))
	mux.HandleFunc("GET /debug/pprof/trace", s.authorized(pprof.Trace))
}
