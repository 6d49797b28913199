package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testtier"
	"herald/node"
	"herald/storage"
	"herald/wire"
)

var receipt = client.Template{Name: "receipt", Title: "Payment receipt", Fields: []string{"amount", "merchant"}}

// receiveIDs reads n messages from sub and checks their ids, returning
// them.
func receiveIDs(t *testing.T, sub *client.Subscriber, want ...uint64) []client.Push {
	t.Helper()
	var got []client.Push
	for _, id := range want {
		m := testserver.Receive(t, sub, 5*time.Second)
		if m.ID != id {
			t.Fatalf("user %d: got message %d, want %d (in order %v)", sub.User(), m.ID, id, want)
		}
		got = append(got, m)
	}
	return got
}

// TestNotificationsInterleaveWithBroadcasts: a notification reaches the
// listed followers only, one live and one on catch-up, in one id order
// with the account's broadcasts; its template, fields and link arrive
// whole; a retry with the same client_msg_id sends nothing again; unknown
// templates and fields, bad requests and the blocklist are handled.
func TestNotificationsInterleaveWithBroadcasts(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pub.DefineTemplate(ctx, receipt); err != nil {
		t.Fatal(err)
	}
	one := h.Subscribe(1, 0)

	b1, err := pub.Publish(ctx, client.Message{Payload: []byte("news 1")})
	if err != nil {
		t.Fatal(err)
	}
	n := client.Notification{ClientMsgID: "order-77", Template: "receipt", Users: []uint32{1, 2, 9},
		Fields: map[string]string{"amount": "9.99", "merchant": "Tea House"}, Link: "https://example.com/o/77"}
	n1, err := pub.Notify(ctx, n)
	if err != nil || n1.Recipients != 2 || n1.Duplicate {
		t.Fatalf("notify: %+v, %v; want 2 recipients (9 does not follow)", n1, err)
	}
	b2, err := pub.Publish(ctx, client.Message{Payload: []byte("news 2")})
	if err != nil {
		t.Fatal(err)
	}
	if !(b1.MessageID < n1.MessageID && n1.MessageID < b2.MessageID) {
		t.Fatalf("ids %d, %d, %d out of order", b1.MessageID, n1.MessageID, b2.MessageID)
	}
	check := func(got []client.Push) {
		t.Helper()
		if got[0].Notification != nil || string(got[0].Payload) != "news 1" || got[2].Notification != nil {
			t.Fatalf("broadcasts arrived as %+v, %+v", got[0], got[2])
		}
		note := got[1].Notification
		if note == nil || note.Template != "receipt" || note.Link != n.Link || len(note.Fields) != 2 ||
			note.Fields[0] != (wire.Field{Name: "amount", Value: "9.99"}) || note.Fields[1] != (wire.Field{Name: "merchant", Value: "Tea House"}) ||
			got[1].Payload != nil || got[1].Account != account {
			t.Fatalf("notification arrived as %+v (%+v)", got[1], note)
		}
	}
	check(receiveIDs(t, one, b1.MessageID, n1.MessageID, b2.MessageID))
	check(receiveIDs(t, h.Subscribe(2, 0), b1.MessageID, n1.MessageID, b2.MessageID))
	three := h.Subscribe(3, 0)
	receiveIDs(t, three, b1.MessageID, b2.MessageID)
	testserver.ExpectNone(t, three)

	again, err := pub.Notify(ctx, n)
	if err != nil || !again.Duplicate || again.MessageID != n1.MessageID {
		t.Fatalf("retry: %+v, %v; want the original %d", again, err, n1.MessageID)
	}
	testserver.ExpectNone(t, one)

	_, err = pub.Notify(ctx, client.Notification{Template: "invoice", Users: []uint32{1}})
	wantCode(t, "unknown template", err, wire.CodeUnknownTemplate)
	_, err = pub.Notify(ctx, client.Notification{Template: "receipt", Users: []uint32{1}, Fields: map[string]string{"tip": "1"}})
	wantCode(t, "unknown field", err, wire.CodeUnknownTemplate)
	if err := pub.Block(ctx, []uint32{3}); err != nil {
		t.Fatal(err)
	}
	blocked, err := pub.Notify(ctx, client.Notification{Template: "receipt", Users: []uint32{3}})
	if err != nil || blocked.Recipients != 0 {
		t.Fatalf("notify a blocked follower: %+v, %v", blocked, err)
	}
	testserver.ExpectNone(t, three)

	list, err := pub.Templates(ctx)
	if err != nil || len(list) != 1 || list[0].Title != receipt.Title || len(list[0].Fields) != 2 {
		t.Fatalf("templates: %+v, %v", list, err)
	}
	// Notifications stay out of the account's broadcast list.
	page, _, err := h.Admin.Broadcasts(ctx, account, 0, 10)
	if err != nil || len(page) != 2 || page[0].ID != b2.MessageID || page[1].ID != b1.MessageID {
		t.Fatalf("broadcast list %+v, %v; want the two broadcasts only", page, err)
	}
	if _, err := pub.DeleteTemplate(ctx, "receipt"); err != nil {
		t.Fatal(err)
	}
	_, err = pub.Notify(ctx, client.Notification{Template: "receipt", Users: []uint32{1}})
	wantCode(t, "deleted template", err, wire.CodeUnknownTemplate)
}

// TestConsentGrantSendBan: a consent template reaches a user who granted
// it, not following the account, spending one grant per notification; a
// second send without a grant is refused and sends nothing; grants
// survive a restart; a ban refuses the template until it is lifted.
func TestConsentGrantSendBan(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 2)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shipped := client.Template{Name: "order.shipped", Title: "Your order shipped", Consent: true, Fields: []string{"order"}}
	if _, err := pub.DefineTemplate(ctx, shipped); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.DefineTemplate(ctx, receipt); err != nil {
		t.Fatal(err)
	}
	user := h.Subscribe(50, 0) // not a follower
	send := func(id string) (client.PublishResult, error) {
		return pub.Notify(ctx, client.Notification{ClientMsgID: id, Template: "order.shipped", Users: []uint32{50}, Fields: map[string]string{"order": id}})
	}
	_, err := send("a")
	wantCode(t, "send before any grant", err, wire.CodeConsentRequired)

	wantCode(t, "grant of a plain template", user.Grant(ctx, account, "receipt", 1), wire.CodeBadRequest)
	wantCode(t, "grant of no template", user.Grant(ctx, account, "nothing", 1), wire.CodeUnknownTemplate)
	wantCode(t, "grant to no account", user.Grant(ctx, account+100, "order.shipped", 1), wire.CodeUnknownAccount)
	if err := user.Grant(ctx, account, "order.shipped", 2); err != nil {
		t.Fatal(err)
	}
	if dry, err := pub.Notify(ctx, client.Notification{Template: "order.shipped", Users: []uint32{50}, DryRun: true}); err != nil || dry.Recipients != 1 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	first, err := send("b")
	if err != nil || first.Recipients != 1 {
		t.Fatalf("first send: %+v, %v", first, err)
	}
	if m := testserver.Receive(t, user, 5*time.Second); m.ID != first.MessageID || m.Notification == nil || m.Notification.Fields[0].Value != "b" {
		t.Fatalf("got %+v", m)
	}
	// A list is all or nothing: user 1 granted nothing, so user 50's
	// grant is not spent.
	_, err = pub.Notify(ctx, client.Notification{Template: "order.shipped", Users: []uint32{1, 50}})
	wantCode(t, "list with a user without a grant", err, wire.CodeConsentRequired)

	_ = user.Close()
	h.Stop()
	h.Restart()
	pub = h.Publisher(account, secret)
	user = h.Subscribe(50, first.MessageID)
	second, err := send("c")
	if err != nil {
		t.Fatalf("second send after a restart: %v", err)
	}
	if m := testserver.Receive(t, user, 5*time.Second); m.ID != second.MessageID {
		t.Fatalf("got %d, want %d", m.ID, second.MessageID)
	}
	_, err = send("d")
	wantCode(t, "third send of two grants", err, wire.CodeConsentRequired)
	testserver.ExpectNone(t, user)

	if err := user.Grant(ctx, account, "order.shipped", 5); err != nil {
		t.Fatal(err)
	}
	if err := user.Ban(ctx, account, "order.shipped"); err != nil {
		t.Fatal(err)
	}
	_, err = send("e")
	wantCode(t, "send after a ban", err, wire.CodeConsentRequired)
	wantCode(t, "grant while banned", user.Grant(ctx, account, "order.shipped", 1), wire.CodeBadRequest)
	if err := user.Unban(ctx, account, "order.shipped"); err != nil {
		t.Fatal(err)
	}
	_, err = send("f")
	wantCode(t, "send after unban, before a grant", err, wire.CodeConsentRequired) // the ban dropped the 5
	if err := user.Grant(ctx, account, "order.shipped", wire.MaxGrant); err != nil {
		t.Fatal(err)
	}
	if _, err := send("g"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < wire.MaxGrants/wire.MaxGrant-1; i++ {
		if err := user.Grant(ctx, account, "order.shipped", wire.MaxGrant); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, "grants past the most held", user.Grant(ctx, account, "order.shipped", 2), wire.CodeLimitExceeded)
}

// TestNotificationDailyLimit: a tier's daily notification limit counts
// recipients, refuses the notification that would pass it with
// QUOTA_EXCEEDED and its reset time, and leaves the broadcast quota alone.
func TestNotificationDailyLimit(t *testing.T) {
	tiers := testtier.Tiers()
	tiers[storage.Tier(200)] = fanout.TierPolicy{Name: "small", ID: 200, Daily: 1, NotificationsDaily: 3}
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{Tiers: tiers}})
	account, secret := h.AccountOfTier("small", 1, 5)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pub.DefineTemplate(ctx, receipt); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Notify(ctx, client.Notification{Template: "receipt", Users: []uint32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	_, err := pub.Notify(ctx, client.Notification{Template: "receipt", Users: []uint32{3, 4}})
	wantCode(t, "two more of three", err, wire.CodeQuotaExceeded)
	var e *client.Error
	if errors.As(err, &e); e.RetryAt.IsZero() || !e.RetryAt.After(time.Now()) {
		t.Fatalf("no reset time in %+v", e)
	}
	if _, err := pub.Notify(ctx, client.Notification{Template: "receipt", Users: []uint32{3}}); err != nil {
		t.Fatalf("the third: %v", err)
	}
	// Notifications did not take the day's broadcast.
	if _, err := pub.Publish(ctx, client.Message{Payload: []byte("x")}); err != nil {
		t.Fatalf("broadcast after notifications: %v", err)
	}
}
