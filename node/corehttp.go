package node

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveCoreHTTP serves a core's /healthz and /metrics on addr: a core
// holds no connections and has no admin API (edges have it), but its
// state is watched like any node's.
func (n *Node) serveCoreHTTP(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", n.coreHealthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.coreRegistry(), promhttp.HandlerOpts{}))
	n.coreHTTP = &http.Server{Handler: mux}
	n.coreAddr = ln.Addr().String()
	go func() {
		if err := n.coreHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.logger.Error("core HTTP", "error", err)
		}
	}()
	return nil
}

// CoreAddr is where a core serves /healthz and /metrics ("" for other
// roles).
func (n *Node) CoreAddr() string { return n.coreAddr }

func (n *Node) coreHealthz(w http.ResponseWriter, _ *http.Request) {
	h, s := n.Engine.Health(), n.Core.Stats()
	status, storageErr := "ok", ""
	if h.StorageError != nil {
		status, storageErr = "degraded", h.StorageError.Error()
	}
	if !s.Connected {
		status = "degraded"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status":             status,
		"role":               RoleCore,
		"storage_error":      storageErr,
		"disk_free_bytes":    h.DiskFree,
		"disk_reserve_bytes": h.DiskReserve,
		"last_message_id":    h.LastMessageID,
		"shard":              n.Engine.Shard(),
		"first_retained":     h.FirstRetained,
		"bus": map[string]any{
			"connected":    s.Connected,
			"edges":        s.Edges,
			"last_relayed": s.LastRelayed,
			"relay_queue":  s.Queued,
			"refused":      s.Refused,
		},
	})
}

func (n *Node) coreRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("herald_storage_writable", "1 while the store accepts writes.", func() float64 { return flag(n.Engine.Health().StorageError == nil) }),
		gauge("herald_disk_free_bytes", "Free bytes on the data directory's filesystem at the last reading.", func() float64 { return float64(n.Engine.Health().DiskFree) }),
		gauge("herald_last_message_id", "Highest committed message id.", func() float64 { return float64(n.Engine.Health().LastMessageID) }),
		gauge("herald_bus_connected", "1 while this core's NATS connection is up.", func() float64 { return flag(n.Core.Stats().Connected) }),
		gauge("herald_core_edges", "Edges this core hears from.", func() float64 { return float64(n.Core.Stats().Edges) }),
		gauge("herald_core_last_relayed_message_id", "Newest broadcast id put on the bus.", func() float64 { return float64(n.Core.Stats().LastRelayed) }),
		gauge("herald_core_relay_queue", "Relays waiting for the bus.", func() float64 { return float64(n.Core.Stats().Queued) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "herald_bus_refused_total", Help: "Bus messages refused (malformed)."},
			func() float64 { return float64(n.Core.Stats().Refused) }),
	)
	return reg
}
