package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testtier"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

func wantCode(t *testing.T, what string, err error, code wire.Code) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// TestTagExpressions: tags are managed over the publisher protocol and an
// expression audience is followers ∧ expression − blocklist, live and on
// catch-up; unknown tags, other accounts' tags and malformed expressions
// are clear errors.
func TestTagExpressions(t *testing.T) {
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{MaxTags: 4, Tiers: testtier.Tiers()}})
	account, secret := h.Account(1, 6)
	other, otherSecret := h.Account(1, 6)
	pub := h.Publisher(account, secret)
	ctx := context.Background()

	for _, name := range []string{"vip", "beijing", "churned"} {
		if _, err := pub.CreateTag(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	_, err := pub.CreateTag(ctx, "vip")
	wantCode(t, "second vip", err, wire.CodeTagExists)
	vip, err := pub.TagUsers(ctx, "vip", []uint32{1, 2, 3, 99}) // 99 does not follow
	if err != nil || vip.Members != 4 {
		t.Fatalf("tag vip: %+v, %v", vip, err)
	}
	beijing, err := pub.TagUsers(ctx, "beijing", []uint32{2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.TagUsers(ctx, "churned", []uint32{3}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Block(ctx, []uint32{6}); err != nil {
		t.Fatal(err)
	}
	subs := map[uint32]*client.Subscriber{}
	for u := uint32(1); u <= 6; u++ {
		subs[u] = h.Subscribe(u, 0)
	}

	cases := []struct {
		expr string
		want []uint32
	}{
		{"vip AND beijing AND NOT churned", []uint32{2}},
		{"NOT vip", []uint32{4, 5}},                                   // 6 is blocked
		{fmt.Sprintf("vip OR #%d", beijing.ID), []uint32{1, 2, 3, 4}}, // 99 is no follower
		{"NOT (vip OR beijing)", []uint32{5}},
		{"NOT vip AND NOT beijing OR churned", []uint32{3, 5}},
	}
	for _, c := range cases {
		dry, err := pub.Publish(ctx, client.Message{Tags: c.expr, DryRun: true})
		if err != nil || dry.Total != uint32(len(c.want)) {
			t.Fatalf("dry run of %q: %+v, %v; want %d", c.expr, dry, err, len(c.want))
		}
		res, err := pub.Publish(ctx, client.Message{Tags: c.expr, Payload: []byte(c.expr)})
		if err != nil || res.Total != uint32(len(c.want)) {
			t.Fatalf("%q: ack %+v, %v; want %d", c.expr, res, err, len(c.want))
		}
		for _, u := range c.want {
			if m := testserver.Receive(t, subs[u], 5*time.Second); m.ID != res.MessageID {
				t.Fatalf("%q: user %d got %d, want %d", c.expr, u, m.ID, res.MessageID)
			}
		}
		for u, sub := range subs {
			if !contains(c.want, u) {
				testserver.ExpectNone(t, sub)
			}
		}
	}

	// Renaming keeps members; deleting removes the name.
	if _, err := pub.RenameTag(ctx, "vip", "gold"); err != nil {
		t.Fatal(err)
	}
	if res, err := pub.Publish(ctx, client.Message{Tags: "gold", DryRun: true}); err != nil || res.Total != 3 {
		t.Fatalf("renamed tag: %+v, %v", res, err)
	}
	_, err = pub.Publish(ctx, client.Message{Tags: "vip"})
	wantCode(t, "publish to the old name", err, wire.CodeUnknownTag)
	if _, err := pub.UntagUsers(ctx, "gold", []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.CreateTag(ctx, "fourth"); err != nil {
		t.Fatal(err)
	}
	_, err = pub.CreateTag(ctx, "fifth")
	wantCode(t, "a fifth tag over MaxTags 4", err, wire.CodeLimitExceeded)
	if _, err := pub.DeleteTag(ctx, "fourth"); err != nil {
		t.Fatal(err)
	}
	tags, err := pub.Tags(ctx)
	if err != nil || len(tags) != 3 || tags[0].Name != "beijing" || tags[2].Name != "gold" || tags[2].Members != 3 {
		t.Fatalf("tags = %+v, %v", tags, err)
	}
	_, err = pub.DeleteTag(ctx, "fourth")
	wantCode(t, "delete twice", err, wire.CodeUnknownTag)

	// Another account's tag, by id, is forbidden; by name it is unknown.
	otherPub := h.Publisher(other, otherSecret)
	_, err = otherPub.Publish(ctx, client.Message{Tags: fmt.Sprintf("#%d", beijing.ID)})
	wantCode(t, "another account's tag id", err, wire.CodeForbidden)
	_, err = otherPub.Publish(ctx, client.Message{Tags: "beijing"})
	wantCode(t, "another account's tag name", err, wire.CodeUnknownTag)
	if _, err := otherPub.Publish(ctx, client.Message{Tags: "beijing AND", DryRun: true}); !errors.Is(err, wire.ErrExpr) {
		t.Fatalf("the SDK sent a malformed expression: %v", err)
	}

	// Catch-up honours the frozen audiences.
	late := h.Subscribe(5, 0)
	for _, want := range []int{1, 3, 4} {
		if m := testserver.Receive(t, late, 5*time.Second); string(m.Payload) != cases[want].expr {
			t.Fatalf("catch-up for user 5 got %q, want %q", m.Payload, cases[want].expr)
		}
	}

	// Raw frames: a malformed expression, a bad tag name and an oversized
	// tag change are request errors; the connection stays usable.
	r := testutil.DialRaw(t, h.Server.PublisherAddr())
	r.Welcome(account, secret)
	r.Send(wire.AppendPublish(nil, wire.Publish{RequestID: 1, Account: account, ClientMsgID: "x", AudienceKind: wire.AudienceTags, AudienceBytes: []byte{wire.OpAnd}}))
	r.ExpectError(wire.CodeBadRequest, 1)
	r.Send(wire.AppendTag(nil, wire.Tag{RequestID: 2, Account: account, Op: wire.TagCreate, Name: "no spaces"}))
	r.ExpectError(wire.CodeBadRequest, 2)
	r.Send(wire.AppendTag(nil, wire.Tag{RequestID: 3, Account: account, Op: wire.TagAdd, Name: "gold", Users: make([]uint32, wire.MaxTagUsers+1)}))
	r.ExpectError(wire.CodeBadRequest, 3)
	r.Send(wire.AppendTag(nil, wire.Tag{RequestID: 4, Account: other, Op: wire.TagList}))
	r.ExpectError(wire.CodeForbidden, 4)
	r.Send(wire.AppendTag(nil, wire.Tag{RequestID: 5, Account: account, Op: 77, Name: "gold"}))
	r.ExpectError(wire.CodeBadRequest, 5)
	r.Send(wire.AppendTag(nil, wire.Tag{RequestID: 6, Account: account, Op: wire.TagList}))
	f, err := r.Next(5 * time.Second)
	if err != nil || f.Type != wire.TypeTags {
		t.Fatalf("list after errors: %v %v", f.Type, err)
	}
	if m, err := wire.DecodeTags(f.Body); err != nil || m.RequestID != 6 || len(m.Tags) != 3 {
		t.Fatalf("TAGS = %+v, %v", m, err)
	}
}

func contains(list []uint32, u uint32) bool {
	for _, v := range list {
		if v == u {
			return true
		}
	}
	return false
}

// TestServiceTierCapsEachFollowerPerMonth: a service account's followers
// receive at most 4 of its broadcasts a calendar month; those at the cap
// are left out and counted as filtered (also by dry runs and JOB_DONE),
// and the count starts again next month. A custom tier from the
// configuration applies its own daily limit.
func TestServiceTierCapsEachFollowerPerMonth(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	tiers := testtier.Tiers()
	tiers[40] = fanout.TierPolicy{Name: "partner", ID: 40, Daily: 3}
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{Now: clock.Now, Tiers: tiers}})
	account, secret := h.AccountOfTier("service", 1, 4)
	ctx := context.Background()
	reports := make(chan client.JobReport, 16)
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: h.Server.PublisherAddr(), Account: account, Secret: secret,
		OnJobDone: func(r client.JobReport) { reports <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for i := 0; i < 3; i++ {
		if res, err := pub.Publish(ctx, client.Message{Users: []uint32{1}}); err != nil || res.Filtered != 0 {
			t.Fatalf("broadcast %d to user 1: %+v, %v", i, res, err)
		}
	}
	if res, err := pub.Publish(ctx, client.Message{}); err != nil || res.Total != 4 || res.Filtered != 0 {
		t.Fatalf("fourth for user 1: %+v, %v", res, err)
	}
	one, two := h.Subscribe(1, 0), h.Subscribe(2, 0)
	for range 4 {
		testserver.Receive(t, one, 5*time.Second)
	}
	testserver.Receive(t, two, 5*time.Second)
	if dry, err := pub.Publish(ctx, client.Message{DryRun: true}); err != nil || dry.Total != 4 || dry.Filtered != 1 || dry.Recipients != 3 {
		t.Fatalf("dry run with user 1 at the cap: %+v, %v", dry, err)
	}
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("fifth")})
	if err != nil || res.Total != 4 || res.Filtered != 1 || res.Recipients != 3 {
		t.Fatalf("fifth: %+v, %v; want total 4, filtered 1", res, err)
	}
	if m := testserver.Receive(t, two, 5*time.Second); m.ID != res.MessageID {
		t.Fatalf("user 2 got %d, want %d", m.ID, res.MessageID)
	}
	testserver.ExpectNone(t, one)
	for r := range reports {
		if r.MessageID == res.MessageID {
			if r.Filtered != 1 || r.SentLive+r.PendingOffline != 3 {
				t.Fatalf("JOB_DONE %+v", r)
			}
			break
		}
	}
	// Catch-up after a restart agrees: user 1 never gets the fifth, and the
	// counts survive it.
	h.Stop()
	h.Restart()
	if res, err := pub.Publish(ctx, client.Message{DryRun: true}); err != nil || res.Filtered != 1 {
		t.Fatalf("dry run after restart: %+v, %v", res, err)
	}
	clock.Advance(24 * time.Hour) // December
	if res, err := pub.Publish(ctx, client.Message{}); err != nil || res.Filtered != 0 || res.Recipients != 4 {
		t.Fatalf("next month: %+v, %v", res, err)
	}

	partner, partnerSecret := h.AccountOfTier("partner", 1, 2)
	pp := h.Publisher(partner, partnerSecret)
	for i := 0; i < 3; i++ {
		if _, err := pp.Publish(ctx, client.Message{}); err != nil {
			t.Fatalf("partner broadcast %d: %v", i, err)
		}
	}
	_, err = pp.Publish(ctx, client.Message{})
	wantCode(t, "a fourth partner broadcast in a day", err, wire.CodeQuotaExceeded)
}
