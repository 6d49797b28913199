package loadtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPercentilesStayWithinTheSamples: the histogram's rounding never puts
// a percentile above the maximum or below the minimum, and the curve runs
// from the true minimum to the true maximum.
func TestPercentilesStayWithinTheSamples(t *testing.T) {
	samples := []time.Duration{1234567 * time.Nanosecond, 1234999 * time.Nanosecond, 1235001 * time.Nanosecond}
	p := percentiles(samples)
	for name, v := range map[string]time.Duration{"p50": p.P50, "p90": p.P90, "p99": p.P99, "p99.9": p.P999} {
		if v > p.Max || v < p.Min {
			t.Errorf("%s %v outside [%v, %v]", name, v, p.Min, p.Max)
		}
	}
	if p.Min != samples[0] || p.Max != samples[2] || p.Curve[0].Latency != p.Min || p.Curve[len(p.Curve)-1].Latency != p.Max {
		t.Fatalf("min %v max %v curve %v..%v", p.Min, p.Max, p.Curve[0], p.Curve[len(p.Curve)-1])
	}
}

// TestReportJSON: snake_case keys, a schema version, the verdict and the
// timeline's bucket width; no secret.
func TestReportJSON(t *testing.T) {
	r := &Report{Config: Config{Scenario: ScenarioFanout, Clients: 3, Target: &Target{AdminToken: "secret"}}, Timeline: []int{1, 2},
		Latency: percentiles([]time.Duration{time.Millisecond})}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["schema_version"] != float64(ReportSchema) || m["verified"] != true || m["timeline_bucket_ms"] != float64(100) {
		t.Fatalf("report: %s", raw)
	}
	if _, ok := m["latency"].(map[string]any)["p999_ns"]; !ok {
		t.Fatalf("latency keys: %v", m["latency"])
	}
	for _, bad := range []string{`"Config"`, `"P50"`, `"Scenario"`, "secret"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("the JSON report holds %s", bad)
		}
	}
}

// TestSummaryWording: an expected error says so, an unexpected one too,
// and a fixed-rate run's completion is from the scheduled time.
func TestSummaryWording(t *testing.T) {
	var out bytes.Buffer
	(&Report{Config: Config{Scenario: ScenarioPublish}, Errors: map[string]int{"QUOTA_EXCEEDED": 1, "INTERNAL": 2}}).Print(&out)
	if !strings.Contains(out.String(), "QUOTA_EXCEEDED  1 (expected") || !strings.Contains(out.String(), "INTERNAL        2 (unexpected)") {
		t.Fatalf("errors:\n%s", out.String())
	}
	out.Reset()
	(&Report{Config: Config{Scenario: ScenarioFanout, Pace: PaceRate, Rate: 10}}).Print(&out)
	if !strings.Contains(out.String(), "completion scheduled→last client") || strings.Contains(out.String(), "burst") {
		t.Fatalf("rate run:\n%s", out.String())
	}
}

// TestChartLeavesOutEmptyPanels: a run with latencies but no timeline
// draws one panel; a run with nothing to draw is an error, not a blank
// chart; the title names the run.
func TestChartLeavesOutEmptyPanels(t *testing.T) {
	r := &Report{Config: Config{Scenario: ScenarioCatchUp, Clients: 7, Broadcasts: 3, Payload: 16}, Date: "2026-12-01T10:00:00Z", Commit: "abc123",
		CatchUp: percentiles([]time.Duration{time.Millisecond, 2 * time.Millisecond})}
	path := filepath.Join(t.TempDir(), "c.png")
	if err := r.WritePNG(path); err != nil {
		t.Fatal(err)
	}
	if title := r.chartTitle(); !strings.Contains(title, "catchup: 7 clients") || !strings.Contains(title, "2026-12-01") || !strings.Contains(title, "commit abc123") {
		t.Fatalf("title %q", title)
	}
	if err := (&Report{}).WritePNG(path); err == nil {
		t.Fatal("an empty run drew a chart")
	}
}
