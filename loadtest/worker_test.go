package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestFanoutOverWorkerProcesses: with at most 50 clients a process, 120
// clients run in this process and two workers, over a tag audience with
// a blocklist and two accounts, and verification covers the workers'
// clients as well.
func TestFanoutOverWorkerProcesses(t *testing.T) {
	r, err := Run(context.Background(), Config{Clients: 120, Followers: 150, Broadcasts: 4, Payload: 32, Audience: AudienceTags, ClientsPerProcess: 50, Accounts: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	want := 0
	for u := 1; u <= 120; u++ {
		if u%2 == 0 && u%7 != 0 && u%11 != 0 {
			want++
		}
	}
	if r.ClientProcesses != 3 || r.Deliveries != 4*want || r.Completion.Count != 4 {
		t.Fatalf("%d processes, %d deliveries (want %d), %d completions", r.ClientProcesses, r.Deliveries, 4*want, r.Completion.Count)
	}
	var out strings.Builder
	r.Print(&out)
	if !strings.Contains(out.String(), "3 (this one and 2 workers, at most 50 clients each)") {
		t.Fatalf("summary does not show the processes:\n%s", out.String())
	}
}

// TestCatchUpOverWorkerProcesses: clients in workers catch up too, and
// their catch-up times reach the report.
func TestCatchUpOverWorkerProcesses(t *testing.T) {
	r, err := Run(context.Background(), Config{Scenario: ScenarioCatchUp, Clients: 90, Broadcasts: 10, Payload: 32, ClientsPerProcess: 40}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	if r.ClientProcesses != 3 || r.CatchUp.Count != 90 || r.Deliveries != 900 || r.CatchUp.Max <= 0 {
		t.Fatalf("%d processes, catch-up %+v, %d deliveries", r.ClientProcesses, r.CatchUp, r.Deliveries)
	}
}

// TestWorkerRecordsSurviveThePipe: what a worker's clients received
// arrives whole, so a loss in a worker is caught like one here.
func TestWorkerRecordsSurviveThePipe(t *testing.T) {
	now := time.Now()
	sent := []*follower{
		{user: 7, since: now, caughtUp: now.Add(time.Millisecond), got: []receipt{{id: 10, at: now, latency: 3 * time.Millisecond}, {id: 11, at: now.Add(time.Second), latency: time.Microsecond}}},
		{user: 8, since: now, got: []receipt{{id: 10, at: now}}}, // lost 11
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(toRecords(sent)); err != nil {
		t.Fatal(err)
	}
	var recs []followerRecord
	if err := gob.NewDecoder(&buf).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	got, err := fromRecords(recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range got {
		s := sent[i]
		if f.user != s.user || !f.since.Equal(s.since) || !f.caughtUp.Equal(s.caughtUp) || len(f.got) != len(s.got) {
			t.Fatalf("follower %d: %+v, sent %+v", i, f, s)
		}
		for j := range f.got {
			if f.got[j].id != s.got[j].id || !f.got[j].at.Equal(s.got[j].at) || f.got[j].latency != s.got[j].latency {
				t.Fatalf("receipt %d/%d: %+v, sent %+v", i, j, f.got[j], s.got[j])
			}
		}
	}
	if !got[1].caughtUp.IsZero() {
		t.Fatal("no catch-up time became one")
	}
	r := &Report{}
	r.verify(got, []uint64{10, 11}, []time.Time{now, now})
	if r.Lost != 1 || r.OK() {
		t.Fatalf("lost %d", r.Lost)
	}
	recs[0].At = recs[0].At[:1]
	if _, err := fromRecords(recs); err == nil {
		t.Fatal("a record with fewer times than ids was accepted")
	}
}

// TestWorkerAnswersBadCommands: the worker side of the protocol answers
// every line, an unknown or malformed command with an error, and finish
// with the records.
func TestWorkerAnswersBadCommands(t *testing.T) {
	in := strings.NewReader(`{"Config":{},"Target":{"ClientAddr":"127.0.0.1:1","AdminURL":"http://127.0.0.1:1"},"AdminToken":"x","Accounts":[1],"Lo":1,"Hi":2}
launch
mint
expect 3 one,2
expect 0 5,6
finish
`)
	var out bytes.Buffer
	if err := runWorker(in, &out); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(&out)
	var lines []string
	for len(lines) < 8 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		lines = append(lines, strings.TrimSpace(line))
		if lines[len(lines)-1] == "result" {
			break
		}
	}
	// Minting fails: no admin API listens on port 1.
	want := []string{"ok", `error unknown command "launch"`, "error loadtest: token for user ", "error expect: strconv.ParseUint: parsing \"one\": invalid syntax", "burst 0", "burst 1", "ok", "result"}
	if len(lines) != len(want) || !strings.HasPrefix(lines[2], want[2]) {
		t.Fatalf("worker said:\n%s", strings.Join(lines, "\n"))
	}
	lines[2] = want[2]
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("worker said:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	var recs []followerRecord
	if err := gob.NewDecoder(r).Decode(&recs); err != nil || len(recs) != 0 {
		t.Fatalf("records %v, %v", recs, err)
	}
}

// TestRefusesWhatCannotFit: a share larger than a process may hold, and a
// churn run needing more than one process, are refused with what to
// change.
func TestRefusesWhatCannotFit(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		says string
	}{
		{Config{Clients: 10, ClientsPerProcess: 1 << 30}, "--clients-per-process"},
		{Config{Scenario: ScenarioChurn, Clients: 100, ClientsPerProcess: 50}, "churn scenario runs its clients in one process"},
	} {
		_, err := Run(context.Background(), c.cfg, nil)
		if !errors.Is(err, ErrTooManyClients) || !strings.Contains(err.Error(), c.says) {
			t.Fatalf("%+v: err = %v", c.cfg, err)
		}
	}
}

// TestLostWorkerFailsTheRun: a worker process that dies takes its
// clients' records with it; the run must fail and say whose they were,
// not verify the rest.
func TestLostWorkerFailsTheRun(t *testing.T) {
	e := &env{target: &Target{ClientAddr: "127.0.0.1:1", AdminURL: "http://127.0.0.1:1"}, report: &Report{}, logf: func(string, ...any) {}}
	cfg := Config{Clients: 4, ClientsPerProcess: 2}
	if err := cfg.fill(); err != nil {
		t.Fatal(err)
	}
	c, err := e.newCrowd(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if len(c.workers) != 1 || e.report.ClientProcesses != 2 {
		t.Fatalf("%d workers, %d processes", len(c.workers), e.report.ClientProcesses)
	}
	c.workers[0].proc.Kill()
	_, err = c.finish(context.Background())
	if err == nil || !strings.Contains(err.Error(), "worker for users 3..4") {
		t.Fatalf("err = %v", err)
	}
}

// TestCatchUpAtAReconnectRate: reconnects paced at 150 clients a second
// over this process and a worker take about as long as that rate says,
// and every client still catches up.
func TestCatchUpAtAReconnectRate(t *testing.T) {
	r, err := Run(context.Background(), Config{Scenario: ScenarioCatchUp, Clients: 60, Broadcasts: 5, Payload: 32, ClientsPerProcess: 30, ReconnectRate: 150}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireOK(t, r)
	// 30 clients a process at 75/s each: the last starts 29/75 s in.
	if r.CatchUp.Count != 60 || r.ConnectRate > 160 {
		t.Fatalf("catch-up %+v, connect rate %.0f/s for 150/s offered", r.CatchUp, r.ConnectRate)
	}
}
