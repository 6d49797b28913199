package bench

import (
	"context"
	"math"
	"net"
	"os"
	"testing"
	"time"

	"herald/internal/natsproc"
	"herald/internal/serverproc"
)

// TestMain lets this test binary run as the server, NATS, the floor, the
// publisher and the storm's live side.
func TestMain(m *testing.M) {
	serverproc.MaybeServe()
	natsproc.MaybeServe()
	MaybeFloor()
	MaybePublisher()
	MaybeLive()
	os.Exit(m.Run())
}

// TestStormMeasuresHeraldAndBothFloors runs a small reconnect storm: every
// client of each side is caught up (Herald's with every missed broadcast,
// the page floor's with as many PUSH frames), and the live side times its
// quiet broadcasts.
func TestStormMeasuresHeraldAndBothFloors(t *testing.T) {
	cfg := StormConfig{Clients: 60, Broadcasts: 10, Online: 5, Quiet: 3, LiveEvery: 5 * time.Millisecond, Dialers: 20}
	r, err := RunStorm(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.CaughtUpPerUser < 10 {
		t.Fatalf("a storm client caught up on %d broadcasts, want 10", r.CaughtUpPerUser)
	}
	for name, side := range map[string]StormSide{"herald": r.Herald, "floor": r.Floor, "page floor": r.PageFloor} {
		if side.Clients != 60 || len(side.PerClient) != 60 || side.Rate() <= 0 {
			t.Fatalf("%s: %+v", name, side)
		}
		for _, d := range side.PerClient {
			if d <= 0 || d > 30*time.Second {
				t.Fatalf("%s: a client took %v", name, d)
			}
		}
	}
	if len(r.Quiet) != 3 || len(r.QuietAck) != 3 || len(r.InStorm) != len(r.InStormAck) {
		t.Fatalf("live: %d quiet (%d acks), %d in the storm (%d acks)", len(r.Quiet), len(r.QuietAck), len(r.InStorm), len(r.InStormAck))
	}
	for _, d := range append(r.Quiet, r.InStorm...) {
		if d <= 0 || d > 30*time.Second {
			t.Fatalf("live broadcast completed in %v", d)
		}
	}
}

// TestBurstMeasuresBothSides runs a small side-by-side measurement: both
// sides deliver every burst to every client and report sane figures.
func TestBurstMeasuresBothSides(t *testing.T) {
	r, err := RunBurst(context.Background(), BurstConfig{Clients: 40, Broadcasts: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, side := range map[string]Side{"herald": r.Herald, "floor": r.Floor, "floor, one writer": r.FloorLoop, "floor, pool of writers": r.FloorPool} {
		if len(side.Completion) != 3 {
			t.Fatalf("%s: %d bursts measured", name, len(side.Completion))
		}
		for _, d := range side.Completion {
			if d < 0 || d > 10*time.Second {
				t.Fatalf("%s: completion %v", name, d)
			}
		}
	}
}

// TestWebSocketBurstMeasuresBothSides: Herald delivers every burst to
// every client over TCP and over WebSocket.
func TestWebSocketBurstMeasuresBothSides(t *testing.T) {
	r, err := RunWebSocketBurst(context.Background(), BurstConfig{Clients: 40, Broadcasts: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, side := range map[string]Side{"tcp": r.TCP, "websocket": r.WS} {
		if len(side.Completion) != 3 {
			t.Fatalf("%s: %d bursts measured", name, len(side.Completion))
		}
	}
}

// TestSustainedMeasuresBothSides runs a short fixed-rate measurement.
func TestSustainedMeasuresBothSides(t *testing.T) {
	r, err := RunSustained(context.Background(), SustainedConfig{Clients: 30, Rate: 20, Duration: 500 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, side := range map[string]SustainedSide{"herald": r.Herald, "floor": r.Floor, "floor, one writer": r.FloorLoop, "floor, pool": r.FloorPool} {
		if len(side.Lag) != 10 || side.DeliveryRate(30) <= 0 {
			t.Fatalf("%s: %d broadcasts, %.0f deliveries/s", name, len(side.Lag), side.DeliveryRate(30))
		}
	}
	// The publisher process times every broadcast it was asked for.
	if len(r.Herald.Acks) != 10 || r.Herald.AckP(0) <= 0 || len(r.Floor.Acks) != 0 {
		t.Fatalf("acknowledgements timed: Herald %d (shortest %v), floor %d", len(r.Herald.Acks), r.Herald.AckP(0), len(r.Floor.Acks))
	}
	if r.Herald.CommitP99 <= 0 || r.Floor.CommitP99 != 0 {
		t.Fatalf("commit p99: Herald %v, floor %v", r.Herald.CommitP99, r.Floor.CommitP99)
	}
}

// TestClusterBurstMeasuresBothSides runs a small cluster beside one
// server: both deliver every burst to every client, and the bus carried
// the broadcasts.
func TestClusterBurstMeasuresBothSides(t *testing.T) {
	r, err := RunClusterBurst(context.Background(), ClusterConfig{BurstConfig: BurstConfig{Clients: 30, Broadcasts: 3}, Edges: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, side := range map[string]Side{"one server": r.AllInOne, "cluster": r.Cluster} {
		if len(side.Completion) != 3 {
			t.Fatalf("%s: %d bursts measured", name, len(side.Completion))
		}
	}
	// At least the publish, its answer and a relay to each edge.
	if r.Bus.OutMsgs < 4 || r.Bus.OutBytes < 2*256 {
		t.Fatalf("bus traffic per broadcast %+v", r.Bus)
	}
}

// TestFloorWritesQueuedFramesTogether: a floor writer's batch reaches each
// connection as one write of the frames triggered after it was accepted.
func TestFloorWritesQueuedFramesTogether(t *testing.T) {
	var conns []net.Conn
	got := make([]chan string, 3)
	for i := range got {
		server, client := net.Pipe()
		conns = append(conns, server)
		got[i] = make(chan string, 1)
		go func() {
			buf := make([]byte, 64)
			n, _ := client.Read(buf) // one Write is one Read on a pipe
			got[i] <- string(buf[:n])
		}()
	}
	writeBatch([]job{{[]byte("a"), conns[:1]}, {[]byte("b"), conns[:2]}, {[]byte("c"), conns}}, 0, 1)
	for i, want := range []string{"abc", "bc", "c"} {
		if s := <-got[i]; s != want {
			t.Fatalf("connection %d got %q in its first write, want %q", i, s, want)
		}
	}
}

func TestBucketQuantile(t *testing.T) {
	b := []bucket{{0.001, 50}, {0.01, 98}, {0.1, 99}, {math.Inf(1), 100}}
	for q, want := range map[float64]time.Duration{0.5: time.Millisecond, 0.9: 10 * time.Millisecond, 0.99: 100 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := bucketQuantile(b, q); got != want {
			t.Errorf("q %v: %v, want %v", q, got, want)
		}
	}
}
