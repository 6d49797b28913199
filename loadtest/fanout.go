package loadtest

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"herald/client"
	"herald/internal/serverproc"
	"herald/wire"
)

// follower is one connected client and what it received.
type follower struct {
	user uint32
	sub  *client.Subscriber
	// got is written by the follower's goroutine only, read after it stops.
	got []receipt
	// since is when it subscribed; caughtUp when it had every broadcast
	// of a catch-up run.
	since, caughtUp time.Time
	// last is the newest message id received (churn scenario).
	last atomic.Uint64
}

type receipt struct {
	id      uint64
	at      time.Time
	latency time.Duration
}

// Run performs one run of cfg.Scenario and returns its report. lines, if
// not nil, receives one line per phase (and per burst without a Progress).
func Run(ctx context.Context, cfg Config, lines io.Writer) (*Report, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	e := &env{report: &Report{Config: cfg, Errors: map[string]int{}, Date: time.Now().UTC().Format(time.RFC3339), Commit: commit()},
		target: cfg.Target, bar: &progress{cfg.Progress}}
	e.logf = func(format string, args ...any) {
		if lines != nil {
			fmt.Fprintf(lines, format+"\n", args...)
		}
	}
	if e.target == nil && cfg.Cluster > 0 {
		stop, err := e.startCluster(cfg.Cores, cfg.Cluster)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	if e.target == nil {
		e.logf("starting the embedded server")
		var err error
		if e.server, err = serverproc.StartTemp(); err != nil {
			return nil, err
		}
		defer e.server.Stop()
		e.servers = append(e.servers, e.server.Usage)
		e.logf("embedded server: pid %d, data in %s", e.server.Pid(), e.server.TempDir)
		a := e.server.Addrs()
		e.target = &Target{ClientAddr: a.ClientAddr, PublisherAddr: a.PublisherAddr, AdminURL: a.AdminURL, AdminToken: a.AdminToken}
		e.report.Embedded = true
	}
	e.admin = &client.Admin{BaseURL: e.target.AdminURL, Token: e.target.AdminToken}
	switch cfg.Scenario {
	case ScenarioCatchUp:
		return e.report, e.catchUp(ctx, cfg)
	case ScenarioPublish:
		return e.report, e.publish(ctx, cfg)
	case ScenarioChurn:
		return e.report, e.churn(ctx, cfg)
	case ScenarioNotify:
		return e.report, e.notify(ctx, cfg)
	default:
		return e.report, e.fanout(ctx, cfg)
	}
}

// env is what every scenario starts from.
type env struct {
	target *Target
	server *serverproc.Process // nil for an external server or a cluster
	// servers are the embedded processes' usage readers (the server's,
	// or a cluster's NATS, core and edges'), for CPU and memory figures.
	servers []func() (time.Duration, int64)
	// cluster is the embedded cluster, if the run started one.
	cluster *embedded
	admin   *client.Admin
	report  *Report
	logf    func(format string, args ...any)
	bar     *progress
	// imported and importTime add up the run's follower imports.
	imported   int
	importTime time.Duration
}

// fanout is the fanout scenario: Accounts accounts with the same
// followers, connected clients, broadcasts published round-robin by the
// accounts one burst at a time (each waited for until every client has
// it), as fast as acknowledged, or at a fixed rate.
func (e *env) fanout(ctx context.Context, cfg Config) error {
	report, logf := e.report, e.logf
	accounts := make([]client.Account, cfg.Accounts)
	accountIDs := make([]uint32, cfg.Accounts)
	for k := range accounts {
		name := "loadtest"
		if k > 0 {
			name = fmt.Sprintf("loadtest-%d", k+1)
		}
		tier := "" // quota-free
		if cfg.Audience == AudienceCapped {
			tier = "service"
		}
		a, err := e.createAccount(ctx, name, tier)
		if err != nil {
			return err
		}
		accounts[k], accountIDs[k] = a, a.ID
	}
	_, baseRSS := e.usage()
	cursor, err := e.newest(ctx)
	if err != nil {
		return err
	}
	clients, err := e.newCrowd(cfg, accountIDs...)
	if err != nil {
		return err
	}
	defer clients.close()
	if err := e.mint(ctx, clients); err != nil {
		return err
	}
	e.bar.phase("connecting", cfg.Clients)
	connectTime, err := clients.connect(ctx, cursor, e.bar)
	if err != nil {
		return err
	}
	report.ConnectRate = float64(cfg.Clients) / connectTime.Seconds()
	logf("%d clients connected and live in %v (%.0f/s)", cfg.Clients, connectTime.Round(time.Millisecond), report.ConnectRate)
	if len(e.servers) > 0 {
		// Clients connect before the followers are imported, so the RSS
		// delta is the connections' alone, not the import's heap reused.
		time.Sleep(200 * time.Millisecond)
		_, rss := e.usage()
		report.ServerRSSPerConn = float64(rss-baseRSS) / float64(cfg.Clients)
	}
	for _, a := range accounts {
		if err := e.importFollowers(ctx, cfg, a); err != nil {
			return err
		}
	}

	baseCPU := e.serverCPU()
	// Broadcast i comes from account i mod Accounts; each has the same
	// followers, tags and blocklist, so the same audience.
	aud := newAudience(cfg)
	pubs := make([]*client.Publisher, len(accounts))
	for k, a := range accounts {
		pub, err := e.publisher(ctx, a)
		if err != nil {
			return err
		}
		defer pub.Close()
		if err := aud.prepare(ctx, cfg, pub); err != nil {
			return err
		}
		pubs[k] = pub
	}
	// Ids are allocated in commit order in each shard, so on an idle
	// server this run's broadcasts are the next ids of their accounts'
	// shards; clients count per burst against that, and a gap fails the
	// run.
	newest, err := e.newest(ctx)
	if err != nil {
		return err
	}
	expected := expectedIDs(newest, accountIDs, cfg.Broadcasts)
	if err := clients.expect(ctx, expected, aud.wants, nil); err != nil {
		return err
	}
	payload := make([]byte, cfg.Payload)
	acks := make([]time.Time, cfg.Broadcasts)
	ids := make([]uint64, cfg.Broadcasts)
	e.bar.phase("bursts", cfg.Broadcasts)
	runStart := time.Now()
	report.start = runStart
	for i := 0; i < cfg.Broadcasts; i++ {
		due := time.Now()
		if cfg.Pace == PaceRate {
			// Latency counts from when it was due, so time spent behind a
			// slow acknowledgement counts (coordinated omission).
			due = runStart.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
			time.Sleep(time.Until(due))
		}
		if kind, ok := chaosAt(cfg, i); ok {
			if err := e.inflict(ctx, kind, wire.AccountShard(accountIDs[i%len(accountIDs)])); err != nil {
				return err
			}
		}
		stampAt(payload, i, due)
		m := client.Message{ContentType: "application/octet-stream", Payload: payload}
		aud.message(&m)
		res, err := pubs[i%len(pubs)].Publish(ctx, m)
		if err != nil {
			return fmt.Errorf("loadtest: publish %d: %w", i, err)
		}
		acks[i], ids[i] = time.Now(), res.MessageID
		if res.MessageID != expected[i] {
			return fmt.Errorf("loadtest: broadcast got id %d, expected %d: another publisher is active on this server; run against an idle one", res.MessageID, expected[i])
		}
		if res.Recipients != uint32(aud.followers) || res.Filtered != uint32(aud.filtered) {
			report.Problems = append(report.Problems, fmt.Sprintf("broadcast %d addressed to %d users with %d filtered by quota, want %d and %d",
				res.MessageID, res.Recipients, res.Filtered, aud.followers, aud.filtered))
		}
		if cfg.Pace == PaceBurst {
			e.waitBurst(cfg, clients, i, res.MessageID, aud.clients, time.Now().Add(cfg.Timeout))
		}
		e.bar.add(1)
	}
	if cfg.Pace != PaceBurst {
		report.PublishRate = float64(cfg.Broadcasts) / time.Since(runStart).Seconds()
		logf("%d broadcasts published (%.0f/s); waiting for delivery", cfg.Broadcasts, report.PublishRate)
		deadline := time.Now().Add(cfg.Timeout)
		for i, id := range ids {
			if !e.waitBurst(cfg, clients, i, id, aud.clients, deadline) {
				break
			}
		}
	}
	report.Elapsed = time.Since(runStart)
	e.measureServer(baseCPU)
	if c := e.cluster; c != nil {
		c.restarting.Wait()
		for _, err := range c.failures {
			report.Problems = append(report.Problems, fmt.Sprintf("chaos: a restart failed: %v", err))
		}
	}
	if cfg.Audience == AudienceCapped && time.Now().UTC().Month() != aud.month {
		report.Problems = append(report.Problems, "the run crossed the start of a month (UTC), when the monthly cap resets: run it again")
	}
	// Verification reads every follower's full record: stop them first.
	followers, err := clients.finish(ctx)
	if err != nil {
		return err
	}
	report.verifyFor(followers, ids, acks, aud.wants)
	return nil
}

// waitBurst waits until broadcast i (id) is at all its clients or the
// deadline, and says so.
func (e *env) waitBurst(cfg Config, clients *crowd, i int, id uint64, want int, deadline time.Time) bool {
	complete := clients.waitBurst(i, deadline)
	switch {
	case !complete:
		e.logf("broadcast %d/%d (id %d): not at every client after %v", i+1, cfg.Broadcasts, id, cfg.Timeout)
	case cfg.Progress == nil:
		e.logf("broadcast %d/%d (id %d): at all %d clients it is for", i+1, cfg.Broadcasts, id, want)
	}
	return complete
}

// followerIDs streams "1\n2\n...n\n" without building it in memory.
func followerIDs(n int) io.Reader {
	r, w := io.Pipe()
	go func() {
		buf := make([]byte, 0, 64<<10)
		for u := 1; u <= n; u++ {
			buf = strconv.AppendInt(buf, int64(u), 10)
			buf = append(buf, '\n')
			if len(buf) > 60<<10 {
				if _, err := w.Write(buf); err != nil {
					return
				}
				buf = buf[:0]
			}
		}
		_, _ = w.Write(buf)
		_ = w.Close()
	}()
	return r
}
