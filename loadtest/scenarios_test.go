package loadtest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func requireOK(t *testing.T, r *Report) {
	t.Helper()
	if !r.OK() {
		var out strings.Builder
		r.Print(&out)
		t.Fatalf("verification failed:\n%s", out.String())
	}
}

// TestCatchUpScenario: offline followers catch up on every broadcast,
// exactly once and in order, after reconnecting at once.
func TestCatchUpScenario(t *testing.T) {
	r, err := Run(context.Background(), Config{Scenario: ScenarioCatchUp, Clients: 40, Followers: 60, Broadcasts: 30, Payload: 64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	if r.CatchUp.Count != 40 || r.Deliveries != 40*30 || r.CatchUp.Max <= 0 {
		t.Fatalf("catch-up %+v, deliveries %d", r.CatchUp, r.Deliveries)
	}
	total := 0
	for _, n := range r.Timeline {
		total += n
	}
	if total != r.Deliveries {
		t.Fatalf("timeline counts %d deliveries, want %d", total, r.Deliveries)
	}
	png := filepath.Join(t.TempDir(), "chart.png")
	if err := r.WritePNG(png); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(png); err != nil || len(b) < 1000 || string(b[1:4]) != "PNG" {
		t.Fatalf("chart: %d bytes, %v", len(b), err)
	}
}

// TestPublishScenario: publishes at a fixed rate are all acknowledged,
// every retry is answered as a duplicate, the daily quota shows as one
// QUOTA_EXCEEDED, and the JSON report carries the figures.
func TestPublishScenario(t *testing.T) {
	r, err := Run(context.Background(), Config{Scenario: ScenarioPublish, Followers: 100, Broadcasts: 60, Publishers: 4, Rate: 500, Payload: 32}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	if r.AckLatency.Count != 60 || r.PublishRate <= 0 || r.Errors["QUOTA_EXCEEDED"] != 1 || len(r.Errors) != 1 {
		t.Fatalf("ack latency %+v, rate %.0f, errors %v", r.AckLatency, r.PublishRate, r.Errors)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.AckLatency.Count != 60 || back.Config.Scenario != ScenarioPublish {
		t.Fatalf("JSON report: %v %+v", err, back.AckLatency)
	}
}

func TestUnknownScenario(t *testing.T) {
	if _, err := Run(context.Background(), Config{Scenario: "storm"}, nil); err == nil || !strings.Contains(err.Error(), "unknown scenario") {
		t.Fatalf("err = %v", err)
	}
}

// TestChurnScenario: clients reconnecting while broadcasts flow still get
// every broadcast exactly once, in order.
func TestChurnScenario(t *testing.T) {
	r, err := Run(context.Background(), Config{Scenario: ScenarioChurn, Clients: 30, Broadcasts: 40, Payload: 32, ChurnRate: 200, Interval: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	if r.Reconnects < 10 || r.Deliveries != 30*40 {
		t.Fatalf("%d reconnects, %d deliveries", r.Reconnects, r.Deliveries)
	}
}

// TestNotifyScenario: notifications to random clients among broadcasts,
// every one verified; and the verification catches a notification that
// went to the wrong user, or never arrived.
func TestNotifyScenario(t *testing.T) {
	r, err := Run(context.Background(), Config{Scenario: ScenarioNotify, Clients: 30, Notifications: 300, Broadcasts: 5, Publishers: 4, Payload: 32}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	if r.Deliveries != 300+30*5 || r.AckLatency.Count != 300 || r.PublishRate <= 0 {
		t.Fatalf("%d deliveries, %d acknowledgements, %.0f/s", r.Deliveries, r.AckLatency.Count, r.PublishRate)
	}
	var b strings.Builder
	r.Print(&b)
	if !strings.Contains(b.String(), "VERIFIED: every client received exactly its notifications") {
		t.Fatalf("report:\n%s", b.String())
	}

	now := time.Now()
	one := &follower{user: 1, got: []receipt{{id: 5, at: now}, {id: 7, at: now}}}
	two := &follower{user: 2}
	bad := &Report{}
	bad.verifyNotified([]*follower{one, two}, []uint64{5}, []time.Time{now}, [][]uint64{{}, {7}})
	if bad.OK() || bad.Wrong != 1 || bad.Lost != 2 {
		t.Fatalf("wrong %d, lost %d; want 1 and 2 (7 to the wrong user, 5 and 7 missed by user 2)", bad.Wrong, bad.Lost)
	}
}

// TestAudienceMixes: with a tag expression or an id list, and a
// blocklist, exactly the clients in the audience receive each broadcast
// and no one else receives any.
func TestAudienceMixes(t *testing.T) {
	for _, mix := range []string{AudienceTags, AudienceList} {
		r, err := Run(context.Background(), Config{Clients: 100, Followers: 300, Broadcasts: 3, Payload: 32, Audience: mix}, nil)
		if err != nil {
			t.Fatalf("%s: %v", mix, err)
		}
		requireOK(t, r)
		want := 0
		for u := 1; u <= 100; u++ {
			switch {
			case u%11 == 0:
			case mix == AudienceTags && u%2 == 0 && u%7 != 0, mix == AudienceList && u%3 == 0:
				want++
			}
		}
		if r.Deliveries != 3*want {
			t.Fatalf("%s: %d deliveries, want %d", mix, r.Deliveries, 3*want)
		}
	}
}

// TestVerificationCatchesWrongDelivery: a broadcast reaching a user outside
// the audience fails the run and names the user.
func TestVerificationCatchesWrongDelivery(t *testing.T) {
	now := time.Now()
	ids := []uint64{5}
	in := &follower{user: 2, got: []receipt{{id: 5, at: now}}}
	out := &follower{user: 3, got: []receipt{{id: 5, at: now}}}
	r := &Report{}
	r.verifyFor([]*follower{in, out}, ids, []time.Time{now}, func(u uint32) bool { return u%2 == 0 })
	var b strings.Builder
	r.Print(&b)
	if r.OK() || r.Wrong != 1 || !strings.Contains(b.String(), "user 3 received broadcast 5, which is not for it") {
		t.Fatalf("wrong %d:\n%s", r.Wrong, b.String())
	}
}

// TestFanoutPaces: broadcasts published as fast as acknowledged or at a
// fixed rate, without waiting for delivery in between, all verified; at
// a rate the server cannot keep up with, latency counts from each
// broadcast's scheduled time, so it includes the time spent behind the
// earlier publishes (coordinated omission).
func TestFanoutPaces(t *testing.T) {
	for _, cfg := range []Config{
		{Clients: 40, Broadcasts: 30, Payload: 32, Pace: PaceAck},
		{Clients: 40, Broadcasts: 30, Payload: 32, Rate: 500},
		{Clients: 40, Broadcasts: 200, Payload: 32, Rate: 1e6},
	} {
		r, err := Run(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		requireOK(t, r)
		if r.Deliveries != cfg.Clients*cfg.Broadcasts || r.PublishRate <= 0 || r.Completion.Count != cfg.Broadcasts {
			t.Fatalf("%+v: %d deliveries, %.0f/s, %d completions", cfg, r.Deliveries, r.PublishRate, r.Completion.Count)
		}
		if cfg.Rate == 1e6 {
			// 200 publishes, each acknowledged after its fsync, take far
			// longer than the 0.2 ms they were scheduled over.
			behind := time.Duration(float64(cfg.Broadcasts-1) / r.PublishRate * float64(time.Second))
			if r.Latency.Max < behind*8/10 {
				t.Fatalf("latency max %v, but the last broadcast was published about %v after it was due", r.Latency.Max, behind)
			}
		}
	}
	if _, err := Run(context.Background(), Config{Pace: PaceRate}, nil); err == nil || !strings.Contains(err.Error(), "needs a rate") {
		t.Fatalf("pace rate without a rate: %v", err)
	}
}

// TestFanoutSeveralAccounts: three accounts with the same followers
// publish in turn to a listed audience; every client gets each account's
// broadcasts, and the accounts flag is refused where it means nothing.
func TestFanoutSeveralAccounts(t *testing.T) {
	r, err := Run(context.Background(), Config{Accounts: 3, Clients: 60, Followers: 90, Broadcasts: 6, Payload: 32, Audience: AudienceList}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	want := 0
	for u := 1; u <= 60; u++ {
		if u%3 == 0 && u%11 != 0 {
			want++
		}
	}
	if r.Deliveries != 6*want {
		t.Fatalf("%d deliveries, want %d", r.Deliveries, 6*want)
	}
	if _, err := Run(context.Background(), Config{Scenario: ScenarioCatchUp, Accounts: 2}, nil); err == nil || !strings.Contains(err.Error(), "fanout scenario") {
		t.Fatalf("catch-up with two accounts: %v", err)
	}
}

// TestCappedAudienceAndNonFollowers: a service-tier account whose every
// fifth follower has had this month's broadcasts, and connected clients
// that follow no one: neither may receive any of the run's broadcasts,
// and the acknowledgements must count the quota's filtering.
func TestCappedAudienceAndNonFollowers(t *testing.T) {
	r, err := Run(context.Background(), Config{Clients: 120, Followers: 100, Payload: 32, Audience: AudienceCapped}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	if r.Config.Broadcasts != ServiceCap || r.Deliveries != ServiceCap*(100-20) {
		t.Fatalf("%d broadcasts, %d deliveries, want %d", r.Config.Broadcasts, r.Deliveries, ServiceCap*80)
	}
	for _, c := range []struct {
		cfg  Config
		says string
	}{
		{Config{Audience: AudienceCapped, Broadcasts: ServiceCap + 1}, "at most 4 broadcasts"},
		{Config{Scenario: ScenarioCatchUp, Clients: 10, Followers: 5}, "clients are all followers"},
		{Config{Audience: "vip"}, "unknown audience"},
	} {
		if _, err := Run(context.Background(), c.cfg, nil); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Fatalf("%+v: %v", c.cfg, err)
		}
	}
}

// TestClusterTarget: the fanout and catchup scenarios verify every
// delivery against an embedded cluster (NATS, a core, two edges), with
// TestWebSocketTransport: the fanout and catch-up scenarios over WebSocket
// verify the same way: every broadcast at every client exactly once, in
// order.
func TestWebSocketTransport(t *testing.T) {
	for _, cfg := range []Config{
		{Scenario: ScenarioFanout, Clients: 50, Broadcasts: 5, Payload: 64, Transport: TransportWebSocket},
		{Scenario: ScenarioCatchUp, Clients: 40, Followers: 50, Broadcasts: 10, Payload: 64, Transport: TransportWebSocket},
	} {
		r, err := Run(context.Background(), cfg, nil)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Scenario, err)
		}
		requireOK(t, r)
		if r.Deliveries != cfg.Clients*cfg.Broadcasts {
			t.Fatalf("%s: %d deliveries", cfg.Scenario, r.Deliveries)
		}
	}
	if _, err := Run(context.Background(), Config{Transport: "carrier pigeon"}, nil); err == nil {
		t.Fatal("an unknown transport ran")
	}
}

// the clients spread over the edges and some in a worker process.
func TestClusterTarget(t *testing.T) {
	for _, cfg := range []Config{
		{Scenario: ScenarioFanout, Clients: 60, ClientsPerProcess: 40, Broadcasts: 5, Payload: 64, Cluster: 2},
		{Scenario: ScenarioCatchUp, Clients: 40, Followers: 50, Broadcasts: 10, Payload: 64, Cluster: 2},
		// Two shards: an account on each, broadcasts in turn.
		{Scenario: ScenarioFanout, Clients: 40, Accounts: 2, Broadcasts: 6, Payload: 64, Cluster: 2, Cores: 2},
	} {
		r, err := Run(context.Background(), cfg, nil)
		if err != nil {
			t.Fatalf("%s: %v", cfg.Scenario, err)
		}
		requireOK(t, r)
		if r.Deliveries != cfg.Clients*cfg.Broadcasts || !r.Embedded || r.ServerCPU < 0 {
			t.Fatalf("%s: %d deliveries, embedded %v", cfg.Scenario, r.Deliveries, r.Embedded)
		}
	}
}

// TestClusterChaos: with two cores and three edges, an edge, a core and
// NATS killed with SIGKILL during the run (the core and NATS restarted),
// every client still gets every broadcast of both shards exactly once, in
// order.
func TestClusterChaos(t *testing.T) {
	cfg := Config{Scenario: ScenarioFanout, Clients: 90, Accounts: 2, Broadcasts: 12, Payload: 64, Cluster: 3, Cores: 2, Chaos: []string{ChaosEdge, ChaosCore, ChaosNATS}}
	r, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	if r.Deliveries != cfg.Clients*cfg.Broadcasts {
		t.Fatalf("%d deliveries", r.Deliveries)
	}
	if _, err := Run(context.Background(), Config{Scenario: ScenarioFanout, Clients: 10, Cluster: 1, Chaos: []string{ChaosEdge}}, nil); err == nil {
		t.Fatal("chaos edge ran with one edge")
	}
}
