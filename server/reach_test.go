package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/node"
	"herald/server"
	"herald/wire"
)

// TestReachCountsWhatClientsAcknowledgedAndOpened: a broadcast's reach,
// over the protocol, counts each recipient once: two followers online
// (sent live), one offline that catches up, then reconnects from cursor 0
// and acknowledges it a second time; openings from two users, one of them
// twice; a blocked follower filtered by reason. A watch sees the counts
// move, and STATUS REACH answers them.
func TestReachCountsWhatClientsAcknowledgedAndOpened(t *testing.T) {
	h := testserver.Start(t, "", node.Config{
		Engine: fanout.Config{CursorFlush: 20 * time.Millisecond},
		Edge:   server.Config{WatchEvery: 20 * time.Millisecond},
	})
	account, secret := h.Account(1, 4)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pub.Block(ctx, []uint32{4}); err != nil {
		t.Fatal(err)
	}
	one, two := h.Subscribe(1, 0), h.Subscribe(2, 0)
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	m := res.MessageID
	reaches := make(chan client.Reach, 100)
	watching := make(chan error, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	go func() { watching <- pub.Watch(watchCtx, m, func(r client.Reach) { reaches <- r }) }()
	if first := <-reaches; first.MessageID != m || first.Blocked != 1 || first.Total != 3 || first.Delivered != 0 {
		t.Fatalf("first reach %+v", first)
	}

	for _, sub := range []*client.Subscriber{one, two} {
		if got := testserver.Receive(t, sub, 5*time.Second); got.ID != m {
			t.Fatalf("got %d, want %d", got.ID, m)
		}
	}
	one.Opened(m)
	one.Opened(m) // once
	_ = one.Close()
	_ = two.Close()
	for session := range 2 { // from cursor 0 both times: it arrives twice
		three := h.Subscribe(3, 0)
		if got := testserver.Receive(t, three, 5*time.Second); got.ID != m {
			t.Fatalf("session %d: got %d, want %d", session, got.ID, m)
		}
		if session == 1 {
			three.Opened(m)
		}
		_ = three.Close() // acknowledges, and waits until the server has it
	}
	// A barrier: user 3 acknowledges a later broadcast; once that counts,
	// every earlier acknowledgement of user 3 has been counted too.
	last, err := pub.Publish(ctx, client.Message{Users: []uint32{3}, Payload: []byte("later")})
	if err != nil {
		t.Fatal(err)
	}
	three := h.Subscribe(3, m)
	if got := testserver.Receive(t, three, 5*time.Second); got.ID != last.MessageID {
		t.Fatalf("got %d, want %d", got.ID, last.MessageID)
	}
	_ = three.Close()
	lastWatch, stopLast := context.WithCancel(ctx)
	lastDelivered := make(chan struct{})
	go func() {
		closed := false
		_ = pub.Watch(lastWatch, last.MessageID, func(r client.Reach) {
			if r.Delivered == 1 && !closed {
				closed = true
				close(lastDelivered)
			}
		})
	}()
	select {
	case <-lastDelivered:
	case <-ctx.Done():
		t.Fatal("the later broadcast was never counted delivered")
	}
	stopLast()

	r, err := pub.Reach(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	want := client.Reach{
		JobReport:       client.JobReport{MessageID: m, Total: 3, SentLive: 2, PendingOffline: 1},
		PublishedMillis: r.PublishedMillis,
		Blocked:         1,
		Delivered:       3,
		CaughtUp:        1,
		Opened:          2,
		Curve:           [wire.CurvePoints]uint32{r.Curve[0], r.Curve[1], 3, 3, 3},
	}
	if r != want || r.Curve[0] > r.Curve[1] || r.PublishedMillis == 0 {
		t.Fatalf("reach %+v\nwant %+v", r, want)
	}
	// The watch saw the same, and ends when asked.
	var seen client.Reach
	for seen.Delivered != 3 || seen.Opened != 2 {
		select {
		case seen = <-reaches:
		case <-ctx.Done():
			t.Fatalf("the watch saw %+v last", seen)
		}
	}
	stopWatch()
	if err := <-watching; !errors.Is(err, context.Canceled) {
		t.Fatalf("watch ended with %v", err)
	}

	// A connection watches at most wire.MaxWatches broadcasts.
	var ended []chan error
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	ids := []uint64{m, last.MessageID}
	for len(ids) <= wire.MaxWatches {
		res, err := pub.Publish(ctx, client.Message{Payload: []byte("more")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.MessageID)
	}
	for _, id := range ids[:wire.MaxWatches] {
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			once := false
			done <- pub.Watch(wctx, id, func(client.Reach) {
				if !once {
					once = true
					close(started)
				}
			})
		}()
		<-started
		ended = append(ended, done)
	}
	var e *client.Error
	if err := pub.Watch(wctx, ids[wire.MaxWatches], func(client.Reach) {}); !errors.As(err, &e) || e.Code != wire.CodeLimitExceeded {
		t.Fatalf("watch %d: %v", wire.MaxWatches+1, err)
	}
	wcancel()
	for _, done := range ended {
		<-done
	}
	if _, err := pub.Reach(ctx, 999_999); !errors.As(err, &e) || e.Code != wire.CodeUnknownMessage {
		t.Fatalf("reach of an unknown broadcast: %v", err)
	}
}

// TestAdminBroadcastsReportReach: the admin API lists an account's
// broadcasts newest first, a page at a time, each with the reach STATUS
// reports, answers one broadcast (404 for another account's or an unknown
// one), and the account's and the server's days add them up.
func TestAdminBroadcastsReportReach(t *testing.T) {
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{CursorFlush: 20 * time.Millisecond}})
	account, secret := h.Account(1, 3)
	other, otherSecret := h.Account(1, 3)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ids []uint64
	for i := range 3 {
		res, err := pub.Publish(ctx, client.Message{Payload: []byte{byte(i)}, Users: []uint32{1, 2}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.MessageID)
	}
	if _, err := h.Publisher(other, otherSecret).Publish(ctx, client.Message{Payload: []byte("other")}); err != nil {
		t.Fatal(err)
	}
	sub := h.Subscribe(1, 0)
	for _, id := range ids {
		if got := testserver.Receive(t, sub, 5*time.Second); got.ID != id {
			t.Fatalf("got %d, want %d", got.ID, id)
		}
	}
	extra := h.Subscribe(9, 0) // online, and no follower
	if n, err := h.Admin.OnlineFollowers(ctx, account); err != nil || n != 1 {
		t.Fatalf("online followers %d, %v; want 1 (user 1)", n, err)
	}
	_ = extra.Close()
	sub.Opened(ids[0])
	_ = sub.Close()
	// Wait until the acknowledgement counts (a watch, not a poll).
	counted := make(chan struct{})
	watchCtx, stop := context.WithCancel(ctx)
	go func() {
		once := false
		_ = pub.Watch(watchCtx, ids[0], func(r client.Reach) {
			if r.Delivered == 1 && r.Opened == 1 && !once {
				once = true
				close(counted)
			}
		})
	}()
	select {
	case <-counted:
	case <-ctx.Done():
		t.Fatal("the acknowledgement never counted")
	}
	stop()

	page, next, err := h.Admin.Broadcasts(ctx, account, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] || next != ids[1] {
		t.Fatalf("first page %+v, next %d", page, next)
	}
	rest, next, err := h.Admin.Broadcasts(ctx, account, next, 2)
	if err != nil || len(rest) != 1 || rest[0].ID != ids[0] || next != 0 {
		t.Fatalf("second page %+v, next %d, %v", rest, next, err)
	}
	b := rest[0]
	if b.Audience != 3 || b.Recipients != 2 || b.Filtered.NotSelected != 1 || b.Delivered != 1 || b.Opened != 1 ||
		b.State != "done" || !b.Analytics || len(b.Curve) != wire.CurvePoints || b.Curve[wire.CurvePoints-1].Delivered != 1 {
		t.Fatalf("broadcast %+v", b)
	}
	one, err := h.Admin.Broadcast(ctx, account, ids[0])
	if err != nil || one.Delivered != 1 || one.ID != ids[0] {
		t.Fatalf("one broadcast %+v, %v", one, err)
	}
	var apiErr *client.AdminError
	if _, err := h.Admin.Broadcast(ctx, other, ids[0]); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("another account's broadcast: %v", err)
	}
	days, err := h.Admin.BroadcastStats(ctx, account, "", "")
	if err != nil || len(days) != 1 || days[0].Broadcasts != 3 || days[0].Recipients != 6 || days[0].Delivered != 3 || days[0].Opened != 1 {
		t.Fatalf("account days %+v, %v", days, err)
	}
	server, err := h.Admin.BroadcastStats(ctx, 0, "", "")
	if err != nil || len(server) != 1 || server[0].Broadcasts != 4 || server[0].Recipients != 9 || server[0].Delivered != 3 {
		t.Fatalf("server days %+v, %v", server, err)
	}
}

// TestFilteredMetricsByReason: /metrics counts the followers left out of
// broadcasts by reason, as PUBLISH_ACK's filters and the reach report them.
func TestFilteredMetricsByReason(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	pub := h.Publisher(account, secret)
	ctx := t.Context()
	if err := pub.Block(ctx, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []client.Message{{Payload: []byte("all")}, {Payload: []byte("one"), Users: []uint32{1}}, {Payload: []byte("dry"), DryRun: true}} {
		if _, err := pub.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.Get("http://" + h.Server.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{ // the first: 3 blocked; the second: 2 and 3 not listed
		`herald_filtered_total{reason="not_selected"} 2`,
		`herald_filtered_total{reason="blocked"} 1`,
		`herald_filtered_total{reason="capped"} 0`,
	} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
}
