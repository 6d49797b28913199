package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"herald/internal/serverproc"
)

// TestMain lets this test binary run as the server and as the floor.
func TestMain(m *testing.M) {
	serverproc.MaybeServe()
	MaybeFloor()
	os.Exit(m.Run())
}

// TestBurstMeasuresBothSides runs a small side-by-side measurement: both
// sides deliver every burst to every client and report sane figures.
func TestBurstMeasuresBothSides(t *testing.T) {
	r, err := RunBurst(context.Background(), BurstConfig{Clients: 40, Broadcasts: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, side := range map[string]Side{"herald": r.Herald, "floor": r.Floor} {
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

// TestSustainedMeasuresBothSides runs a short fixed-rate measurement.
func TestSustainedMeasuresBothSides(t *testing.T) {
	r, err := RunSustained(context.Background(), SustainedConfig{Clients: 30, Rate: 20, Duration: 500 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, side := range map[string]SustainedSide{"herald": r.Herald, "floor": r.Floor} {
		if len(side.Lag) != 10 || side.DeliveryRate(30) <= 0 {
			t.Fatalf("%s: %d broadcasts, %.0f deliveries/s", name, len(side.Lag), side.DeliveryRate(30))
		}
	}
}
