package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestScheduledBroadcasts: a scheduled broadcast is sent at its time, not
// before, and answers its client_msg_id as scheduled, then as sent; one
// cancelled is never sent; one pending across a restart is sent after it,
// at its time; the quota is counted when it is sent, so one over it fails
// and says so.
func TestScheduledBroadcasts(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	one := h.Subscribe(1, 0)

	at := time.Now().Add(700 * time.Millisecond)
	res, err := pub.Schedule(ctx, client.Message{ClientMsgID: "morning", Payload: []byte("good morning")}, at)
	if err != nil || !res.Scheduled || res.MessageID != 0 || res.Duplicate {
		t.Fatalf("schedule: %+v, %v", res, err)
	}
	again, err := pub.Publish(ctx, client.Message{ClientMsgID: "morning", Payload: []byte("good morning")})
	if err != nil || !again.Scheduled || !again.Duplicate || again.MessageID != 0 {
		t.Fatalf("publish of a scheduled client_msg_id: %+v, %v", again, err)
	}
	if _, err := pub.Schedule(ctx, client.Message{ClientMsgID: "never", Payload: []byte("x")}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := pub.Cancel(ctx, "never"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "cancel twice", pub.Cancel(ctx, "never"), wire.CodeUnknownMessage)

	m := testserver.Receive(t, one, 10*time.Second)
	if string(m.Payload) != "good morning" || m.Time.Before(at.Truncate(time.Millisecond)) {
		t.Fatalf("got %+v at %v, scheduled for %v", m, m.Time, at)
	}
	sent, err := pub.Publish(ctx, client.Message{ClientMsgID: "morning", Payload: []byte("good morning")})
	if err != nil || !sent.Scheduled || !sent.Duplicate || sent.MessageID != m.ID {
		t.Fatalf("publish of a sent scheduled client_msg_id: %+v, %v; want id %d", sent, err, m.ID)
	}
	wantCode(t, "cancel once sent", pub.Cancel(ctx, "morning"), wire.CodeUnknownMessage)

	// Pending across a restart.
	at = time.Now().Add(1500 * time.Millisecond)
	if _, err := pub.Schedule(ctx, client.Message{ClientMsgID: "evening", Payload: []byte("good evening")}, at); err != nil {
		t.Fatal(err)
	}
	_ = one.Close()
	h.Stop()
	h.Restart()
	one = h.Subscribe(1, m.ID)
	if m := testserver.Receive(t, one, 10*time.Second); string(m.Payload) != "good evening" || m.Time.Before(at.Truncate(time.Millisecond)) {
		t.Fatalf("after a restart got %+v at %v, scheduled for %v", m, m.Time, at)
	}
	testserver.ExpectNone(t, one) // "never" stayed cancelled

	// The quota counts when it is sent: a subscription account's second
	// of the day fails at its time.
	sub, subSecret := h.AccountOfTier("subscription", 1, 3)
	subPub := h.Publisher(sub, subSecret)
	soon := time.Now().Add(200 * time.Millisecond)
	for _, id := range []string{"a", "b"} {
		if _, err := subPub.Schedule(ctx, client.Message{ClientMsgID: id, Payload: []byte(id)}, soon); err != nil {
			t.Fatal(err)
		}
	}
	var list []client.ScheduledBroadcast
	testutil.WaitFor(t, 10*time.Second, "both schedules done", func() bool {
		list, err = h.Admin.Schedules(ctx, sub)
		return err == nil && len(list) == 2 && list[0].State != "pending" && list[1].State != "pending"
	})
	states := list[0].State + "," + list[1].State
	if states != "sent,failed" && states != "failed,sent" {
		t.Fatalf("schedules %+v", list)
	}
	for _, sc := range list {
		if sc.State == "failed" && !strings.Contains(sc.Error, "quota") {
			t.Fatalf("failed schedule says %q", sc.Error)
		}
	}
	if list, err := h.Admin.Schedules(ctx, account); err != nil || len(list) != 2 || list[0].ClientMsgID != "evening" || list[0].State != "sent" || list[1].State != "sent" {
		t.Fatalf("account's schedules %+v, %v", list, err)
	}
}
