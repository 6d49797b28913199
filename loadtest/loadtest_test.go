package loadtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"herald/internal/testserver"
	"herald/internal/testtier"
	"herald/internal/testutil"
	"herald/node"
)

// TestMain lets this test binary serve as the embedded server process.
func TestMain(m *testing.M) {
	MaybeServe()
	os.Exit(m.Run())
}

func TestEmbeddedRunVerifies(t *testing.T) {
	report, err := Run(context.Background(), Config{Clients: 50, Followers: 80, Broadcasts: 5, Payload: 64, SourceAddrs: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() || report.Deliveries != 250 || !report.Embedded {
		var out strings.Builder
		report.Print(&out)
		t.Fatalf("report:\n%s", out.String())
	}
	if report.ServerRSS < 1<<20 {
		t.Fatalf("server RSS %d B", report.ServerRSS)
	}
	if report.Completion.Count != 5 || report.Latency.Count != 250 {
		t.Fatalf("%d completions, %d latencies", report.Completion.Count, report.Latency.Count)
	}
}

func TestExternalTargetVerifies(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	// History from an earlier account must not confuse the run.
	account, secret := h.Account(1, 10)
	if _, err := h.Publisher(account, secret).Publish(context.Background(), testutil.Message("old")); err != nil {
		t.Fatal(err)
	}
	target := &Target{ClientAddr: h.Server.ClientAddr(), PublisherAddr: h.Server.PublisherAddr(), AdminURL: "http://" + h.Server.AdminAddr(), AdminToken: h.Server.AdminToken(), Tier: testtier.Unlimited.Name}
	report, err := Run(context.Background(), Config{Clients: 20, Broadcasts: 3, Target: target}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() || report.Deliveries != 60 {
		t.Fatalf("lost %d dup %d disorder %d problems %v deliveries %d", report.Lost, report.Duplicates, report.OutOfOrder, report.Problems, report.Deliveries)
	}
}

// TestVerificationCatchesLoss feeds verify a record with one delivery
// dropped, one duplicated and one reordered: each must be caught.
func TestVerificationCatchesLoss(t *testing.T) {
	now := time.Now()
	ids := []uint64{10, 11, 12}
	acks := []time.Time{now, now, now}
	full := func(user uint32) *follower {
		f := &follower{user: user}
		for _, id := range ids {
			f.got = append(f.got, receipt{id: id, at: now})
		}
		return f
	}
	dropped := full(2)
	dropped.got = dropped.got[:2] // broadcast 12 never arrived
	duplicated := full(3)
	duplicated.got = append(duplicated.got, receipt{id: 11, at: now})
	reordered := full(4)
	reordered.got[0], reordered.got[1] = reordered.got[1], reordered.got[0]

	r := &Report{}
	r.verify([]*follower{full(1), dropped, duplicated, reordered}, ids, acks)
	if r.OK() || r.Lost != 1 || r.Duplicates != 1 || r.OutOfOrder != 1 {
		t.Fatalf("lost %d dup %d disorder %d", r.Lost, r.Duplicates, r.OutOfOrder)
	}
	var out strings.Builder
	r.Print(&out)
	if !strings.Contains(out.String(), "VERIFICATION FAILED") || !strings.Contains(out.String(), "user 2 never received broadcast 12") {
		t.Fatalf("report does not say what was lost:\n%s", out.String())
	}
}

func TestRefusesMoreClientsThanFiles(t *testing.T) {
	_, err := Run(context.Background(), Config{Clients: 1 << 30}, nil)
	if err == nil || !strings.Contains(err.Error(), "ulimit -n") {
		t.Fatalf("err = %v", err)
	}
}
