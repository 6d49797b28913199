package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestLettersAndRepliesInTheServiceWindow: a follower's letter reaches the
// account's backend, pulled and watched, and survives a restart; it opens
// the user's service window, in which the account replies up to the
// limit, the replies reaching the user marked as replies; the window
// closes after its time, with the time it closed. Users who do not
// follow, or are blocked, cannot write.
func TestLettersAndRepliesInTheServiceWindow(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	h := testserver.Start(t, "", node.Config{Engine: fanout.Config{Now: clock.Now, ReplyLimit: 2, LettersDaily: 3}})
	account, secret := h.Account(1, 2)
	pub := h.Publisher(account, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	one := h.Subscribe(1, 0)
	reply := func(text string) (client.PublishResult, error) {
		return pub.Publish(ctx, client.Message{ReplyTo: 1, ContentType: "text/plain", Payload: []byte(text)})
	}
	_, err := reply("unasked")
	wantCode(t, "reply before any letter", err, wire.CodeWindowClosed)

	if err := one.Write(ctx, account, "text/plain", []byte("where is my order?")); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "letter from a non-follower", h.Subscribe(3, 0).Write(ctx, account, "", []byte("hi")), wire.CodeNotFollowing)
	if err := pub.Block(ctx, []uint32{2}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "letter from a blocked follower", h.Subscribe(2, 0).Write(ctx, account, "", []byte("hi")), wire.CodeNotFollowing)
	wantCode(t, "letter to no account", one.Write(ctx, account+9, "", []byte("hi")), wire.CodeUnknownAccount)

	letters, more, err := pub.Inbox(ctx, 0)
	if err != nil || more || len(letters) != 1 || letters[0].Seq != 1 || letters[0].User != 1 ||
		string(letters[0].Payload) != "where is my order?" || letters[0].ContentType != "text/plain" || !letters[0].Time.Equal(clock.Now().Truncate(time.Millisecond)) {
		t.Fatalf("inbox: %+v, %v, %v", letters, more, err)
	}
	watched := make(chan client.Letter, 10)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watching := make(chan error, 1)
	go func() { watching <- pub.WatchInbox(watchCtx, 0, func(l client.Letter) { watched <- l }) }()
	if l := <-watched; l.Seq != 1 {
		t.Fatalf("watch began with %+v", l)
	}
	if err := one.Write(ctx, account, "", []byte("hello?")); err != nil {
		t.Fatal(err)
	}
	if l := <-watched; l.Seq != 2 || string(l.Payload) != "hello?" {
		t.Fatalf("watch then got %+v", l)
	}
	stopWatch()
	if err := <-watching; !errors.Is(err, context.Canceled) {
		t.Fatalf("watch ended with %v", err)
	}

	for _, text := range []string{"it ships today", "tracking: 123"} {
		res, err := reply(text)
		if err != nil || res.Recipients != 1 {
			t.Fatalf("reply %q: %+v, %v", text, res, err)
		}
		if m := testserver.Receive(t, one, 5*time.Second); m.ID != res.MessageID || !m.Reply || string(m.Payload) != text {
			t.Fatalf("got %+v", m)
		}
	}
	_, err = reply("a third")
	wantCode(t, "a third reply of two", err, wire.CodeWindowClosed)
	if dry, err := pub.Publish(ctx, client.Message{ReplyTo: 1, DryRun: true}); err == nil {
		t.Fatalf("dry run of a used-up window: %+v", dry)
	}

	clock.Advance(time.Hour)
	if err := one.Write(ctx, account, "", []byte("thanks!")); err != nil { // a new window
		t.Fatal(err)
	}
	wrote := clock.Now()
	// Three letters a day at most (the test's limit).
	wantCode(t, "a fourth letter in a day", one.Write(ctx, account, "", []byte("again?")), wire.CodeLimitExceeded)
	if _, err := reply("you're welcome"); err != nil {
		t.Fatal(err)
	}
	testserver.Receive(t, one, 5*time.Second)
	clock.Advance(48*time.Hour + time.Second)
	_, err = reply("too late")
	wantCode(t, "reply after 48 hours", err, wire.CodeWindowClosed)
	var e *client.Error
	if errors.As(err, &e); !e.RetryAt.Equal(wrote.Add(48 * time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("window closed at %v, want %v", e.RetryAt, wrote.Add(48*time.Hour))
	}
	testserver.ExpectNone(t, one)

	// The next day (two on), letters again.
	if err := one.Write(ctx, account, "", []byte("a new day")); err != nil {
		t.Fatal(err)
	}

	_ = one.Close()
	h.Stop()
	h.Restart()
	pub = h.Publisher(account, secret)
	letters, _, err = pub.Inbox(ctx, 1)
	if err != nil || len(letters) != 3 || letters[0].Seq != 2 || letters[1].Seq != 3 || string(letters[1].Payload) != "thanks!" || string(letters[2].Payload) != "a new day" {
		t.Fatalf("inbox after a restart: %+v, %v", letters, err)
	}
}
